#include "workqueue_plugin.h"
