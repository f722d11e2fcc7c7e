import WorkQueue
