/*
 * cplugin.h: a handler plugin written in plain C against workqueue_plugin.h, proving the ABI
 * is language-neutral. Built as libCPrinterPlugin.so (product CPrinterPlugin).
 *
 * Handler "cupper": prints each item upper-cased (ASCII letters) on its own stdout line and
 * returns it as the result. Options:
 *   fail=TEXT   items containing TEXT fail (to watch retries and dead letters)
 *   reject=TEXT items containing TEXT are rejected (WORKQUEUE_PLUGIN_REJECTED): dead-lettered
 *               at once, never retried
 *   prefix=TEXT prepended to every printed line and result
 * The item "wait" blocks until the host cancels it (at most 10 s), to show cancellation.
 */
#pragma once
#include "workqueue_plugin.h"

/** The plugin's entry point. */
const workqueue_plugin *workqueue_plugin_entry(void);
