// The ABI is header-only; this file lets SwiftPM build the target.
#include "workqueue_plugin.h"
