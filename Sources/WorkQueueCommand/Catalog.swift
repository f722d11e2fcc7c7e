import WorkQueue
import WorkQueueRedis

/// Every setting read from a flag and an environment variable, each declared once: the
/// commands take their flags' names and `--help` from here, ``Settings`` reads the flag, the
/// variable and the default from here, and the settings tables of docs/commands.md are generated from
/// here (`workqueue settings --markdown`; a test fails when docs/commands.md drifts from it).
/// Defaults that belong to the framework (``WorkerOptions``, ``RedisQueue``) are read from it,
/// not copied.
///
/// Not apple/swift-configuration: its readers fall back to the default when a value does not
/// convert (`WORKQUEUE_CONCURRENCY=abc` would silently run with 1, where a bad variable must
/// stop the command with exit 64 naming it), it reads booleans differently (`on` is not true),
/// its key-to-variable mapping does not give our historical names (`--grace-seconds` reads
/// `WORKQUEUE_SHUTDOWN_GRACE_SECONDS`), and it generates neither `--help` nor the docs;
/// ArgumentParser parses the flags either way.
enum Catalog {
    // MARK: Every queue command (QueueOptions)

    static let queue = Setting<String?>(
        "queue", valueName: "name", variable: "WORKQUEUE_QUEUE", default: nil,
        "the queue name: the Redis list of pending items")

    static let shards = Setting<Int>(
        "shards", valueName: "m", variable: "WORKQUEUE_SHARDS", default: 1, form: .whole(1...RedisQueue.maxShards),
        "work the queue as M shards {NAME:0} ... {NAME:M-1}, each its own queue and hash tag, 1 to \(RedisQueue.maxShards)",
        details: "every command takes it; 1 is the queue `NAME` itself, keys unchanged; with M > 1, NAME may not contain a brace; "
            + "see [Sharded queues](redis.md#sharded-queues)")

    static let redis = Setting<String?>(
        "redis", valueName: "url", variable: "REDIS_URL", variableNote: "else REDIS_SERVICE_HOST/REDIS_SERVICE_PORT",
        default: nil, shown: RedisConfiguration.fallbackURL,
        "Redis URL redis://[user:password@]host[:port][/db], or rediss:// for TLS",
        details: "see [TLS](redis.md#tls); passwords are never printed: every message redacts what could be a URL's credentials (up to "
            + "its last `@`), whatever the URL's shape, even one that cannot be parsed. "
            + "`redis://[user:password@]host1:port1,host2:port2` lists Redis Cluster seed nodes (and turns `--cluster` on; TLS "
            + "files and credentials apply to every node)")

    static let cluster = Setting<Bool>(
        "cluster", variable: "WORKQUEUE_CLUSTER", default: false, form: .toggle,
        "Redis is a Redis Cluster: discover its nodes from the URL's node(s) and route each command by slot; the queue name "
            + "needs a hash tag, e.g. {job2} (a URL listing several nodes, redis://h1:p1,h2:p2, implies it)",
        details: "see [Redis Cluster](redis.md#redis-cluster); every command takes it")

    static let redisPasswordFile = Setting<String?>(
        "redis-password-file", valueName: "path", variable: "REDIS_PASSWORD_FILE", default: nil,
        "read the Redis password from this file (trailing newline stripped), used when the URL has none",
        details: "a mounted Secret; an unreadable or empty file stops the command (exit 78) with an error naming the file. The "
            + "password is never printed, logged or written to Redis (every command takes these connection flags)")

    static let tlsCAFile = Setting<String?>(
        "tls-ca-file", valueName: "path", variable: "WORKQUEUE_TLS_CA_FILE", default: nil, shown: "system CA bundle",
        "trust the CA certificate(s) in this PEM file, instead of the system's, for a rediss:// URL",
        details: "a private CA")

    static let tlsCertFile = Setting<String?>(
        "tls-cert-file", valueName: "path", variable: "WORKQUEUE_TLS_CERT_FILE", default: nil,
        "present the client certificate in this PEM file to a rediss:// server; needs --tls-key-file",
        details: "for a server that checks them (`tls-auth-clients`)")

    static let tlsKeyFile = Setting<String?>(
        "tls-key-file", valueName: "path", variable: "WORKQUEUE_TLS_KEY_FILE", default: nil,
        "the private key (PEM, unencrypted) of --tls-cert-file",
        details: "a TLS file with a `redis://` URL, or a certificate without its key, is refused (exit 64) rather than guessed "
            + "at; a file that cannot be read or parsed stops the command (exit 78) naming the file and its flag or variable. "
            + "Every command takes these three, like the other connection flags")

    static let connectTimeout = Setting<Duration>(
        "connect-timeout", valueName: "seconds", variable: "WORKQUEUE_CONNECT_TIMEOUT", default: .seconds(30),
        form: .seconds(allowZero: true),
        "seconds to keep retrying to reach Redis at start before giving up",
        details: "it also bounds each attempt, its first replies included (a server that accepts and stays silent fails within it); a reconnect later tries for at most 5 s per operation")

    static let logLevel = Setting<String>(
        "log-level", valueName: "level", variable: "WORKQUEUE_LOG_LEVEL", default: "info",
        "diagnostics on stderr: trace, debug, info, notice, warning, error or critical")

    static let logFormat = Setting<String>(
        "log-format", valueName: "format", variable: "WORKQUEUE_LOG_FORMAT", default: "text",
        "diagnostics format on stderr: text, or json for one JSON object per line",
        details: "each with `time`, `level`, `message`, `label` and the metadata as strings (`session`; for an item, `item`, "
            + "escaped and at most 80 characters, and `attempt`), for log collectors; stdout keeps the tutorial's lines")

    // MARK: work

    static let handler = Setting<String?>(
        "handler", valueName: "name", variable: "WORKQUEUE_HANDLER", default: nil,
        "a compiled-in handler: see `\(ProgramName.current) handlers`",
        details: "in a [worker of your own](../README.md#your-job-in-your-own-package) with one handler compiled in, that one is the default")

    static let plugin = Setting<String?>(
        "plugin", valueName: "path", variable: "WORKQUEUE_PLUGIN", default: nil,
        "a handler in a shared object: a plugin exporting the workqueue C ABI, or with --symbol a plain C function",
        details: "see [Plugins](../README.md#plugins)")

    static let symbol = Setting<String?>(
        "symbol", valueName: "symbol", variable: "WORKQUEUE_SYMBOL", default: nil,
        "with --plugin: call this exported C function per item through libffi")

    static let signature = Setting<String?>(
        "signature", valueName: "sig", variable: "WORKQUEUE_SIGNATURE", default: nil,
        "with --symbol: the function's signature, e.g. 'i64(i64)' or 'i32(ptr,u64)'")

    static let option = Setting<[String: String]>(
        "option", valueName: "key=value", variable: "WORKQUEUE_OPTIONS", variableNote: "comma-separated; flags win",
        default: [:], form: .pairs,
        "a handler option KEY=VALUE, repeatable",
        details: "e.g. `delay=10` for `printer`")

    static let leaseSeconds = Setting<Duration>(
        "lease-seconds", valueName: "seconds", variable: "WORKQUEUE_LEASE_SECONDS", default: WorkerOptions().leaseDuration,
        form: .seconds(allowZero: false),
        "lease length; renewed every third of it while the handler runs")

    static let concurrency = Setting<Int>(
        "concurrency", valueName: "n", variable: "WORKQUEUE_CONCURRENCY", default: WorkerOptions().concurrency,
        form: .whole(WorkerOptions.concurrencyRange),
        "items handled at once by this process")

    static let prefetch = Setting<Int?>(
        "prefetch", valueName: "n", variable: "WORKQUEUE_PREFETCH", default: WorkerOptions().prefetch, shown: "adaptive",
        form: .whole(WorkerOptions.prefetchRange),
        "items held per slot, running or waiting in the buffer; unset, it adapts to how fast the handler returns",
        details: "held items are renewed; unstarted ones are released in order on SIGTERM. Unset, the buffer holds one item per "
            + "slot at first, then as many as keep the slots busy for two round trips while handlers return quickly, at most "
            + "what the slots can start within a third of the lease, \(WorkerOptions().maxBuffered) items, \(WorkerOptions().maxBufferedBytes >> 20) MiB of items, "
            + "and half of what is pending")

    static let maxItemBytes = Setting<Int>(
        "max-item-bytes", valueName: "bytes", variable: "WORKQUEUE_MAX_ITEM_BYTES", default: RedisQueue.defaultMaxItemBytes,
        form: .whole(1...RedisQueue.maxItemBytesLimit),
        "items longer than this go straight to NAME:dead, never to a handler; at most \(RedisQueue.maxItemBytesLimit)",
        details: "the take itself moves them (the worker logs the size; `dead list` shows why); the bound (256 MiB) keeps every "
            + "reply within the client's bound of 512 MiB")

    static let maxAttempts = Setting<Int>(
        "max-attempts", valueName: "n", variable: "WORKQUEUE_MAX_ATTEMPTS", default: WorkerOptions().maxAttempts,
        form: .whole(1...Int.max),
        "attempts before an item is dead-lettered to NAME:dead",
        details: "`reap` takes it too")

    static let retryBaseSeconds = Setting<Duration>(
        "retry-base-seconds", valueName: "seconds", variable: "WORKQUEUE_RETRY_BASE_SECONDS", default: .seconds(1),
        form: .seconds(allowZero: true),
        "first retry delay; doubles per attempt, with jitter")

    static let retryMaxSeconds = Setting<Duration>(
        "retry-max-seconds", valueName: "seconds", variable: "WORKQUEUE_RETRY_MAX_SECONDS", default: .seconds(300),
        form: .seconds(allowZero: true),
        "longest retry delay")

    static let graceSeconds = Setting<Duration>(
        "grace-seconds", valueName: "seconds", variable: "WORKQUEUE_SHUTDOWN_GRACE_SECONDS",
        default: WorkerOptions().shutdownGracePeriod, form: .seconds(allowZero: true),
        "after SIGTERM, how long in-flight items may finish before they are released",
        details: "the worker exits at most 0.5 s after it, in every state")

    static let itemTimeout = Setting<Duration?>(
        "item-timeout", valueName: "seconds", variable: "WORKQUEUE_ITEM_TIMEOUT_SECONDS",
        default: WorkerOptions().itemTimeout, shown: "none", form: .seconds(allowZero: false),
        "cancel a handler still running after S s; the attempt fails with \"timed out after S s\"",
        details: "the handler's cancellation reason says so and a plugin sees its stop flag; one still running 5 s later is "
            + "left behind: the attempt fails all the same (retried or dead-lettered), its late result is ignored, and its "
            + "slot goes on with the next item on a spare thread (one per slot); once more handlers are left behind than "
            + "there are spares, the worker releases its items and exits 5")

    static let recoverySeconds = Setting<Duration>(
        "recovery-seconds", valueName: "seconds", variable: "WORKQUEUE_RECOVERY_SECONDS", default: WorkerOptions().recoveryInterval,
        form: .seconds(allowZero: false),
        "how often to return expired leases to pending and promote due retries")

    static let backendRetrySeconds = Setting<Duration>(
        "backend-retry-seconds", valueName: "seconds", variable: "WORKQUEUE_BACKEND_RETRY_SECONDS",
        default: WorkerOptions().backendRetryBudget, form: .seconds(allowZero: true),
        "how long to keep retrying when Redis fails mid-run before exiting 1; also bounds each connect attempt",
        details: "counted from the start of the first failed attempt; a later attempt still under way when it runs out is cut, "
            + "and each reconnect of the worker is bounded by it too (at least 1 s; a reply waits at most 10 s)")

    static let resultsMax = Setting<Int>(
        "results-max", valueName: "n", variable: "WORKQUEUE_RESULTS_MAX", default: RedisQueue.defaultResultsMax,
        form: .whole(0...Int.max),
        "keep the N most recent completion records in NAME:results; each completion that records one trims the rest, "
            + "and counts them in NAME:results:dropped",
        details: "exact (`XTRIM MAXLEN =`), in the completion's own script; what was dropped is reported by `results`, "
            + "`status` and `status --serve` (0 keeps none; see [Results](operating.md#results))")

    static let rateLimit = Setting<String?>(
        "rate-limit", valueName: "rate", variable: "WORKQUEUE_RATE_LIMIT", default: nil, shown: "none",
        "the whole fleet together starts at most this many items: N/s or N/m (e.g. 200/s), enforced in Redis inside the take",
        details: "GCRA on NAME:rate with the Redis clock, bursts of at most a tenth of a second's worth; with --shards M each "
            + "shard allows N/M; workers passing different limits share one state, each take applying its own worker's "
            + "(give every worker the same); see [Rate limit](operating.md#rate-limit)")

    static let requireNoEviction = Setting<Bool>(
        "require-noeviction", variable: "WORKQUEUE_REQUIRE_NOEVICTION", default: false, form: .toggle,
        "refuse to start unless Redis' maxmemory-policy is noeviction; without it another policy is only warned about",
        details: "exit 78, nothing touched; the warning goes to stderr at start (see [Redis settings](redis.md#redis-settings))")

    static let metricsPort = Setting<Int?>(
        "metrics-port", valueName: "port", variable: "WORKQUEUE_METRICS_PORT", default: nil, form: .whole(0...65535),
        "serve Prometheus metrics at http://0.0.0.0:PORT/metrics while working; 0 picks a free port",
        details: "see [Observing a Job](operating.md#observing-a-job)")

    static let metricsPush = Setting<String?>(
        "metrics-push", valueName: "url", variable: "WORKQUEUE_METRICS_PUSH", default: nil,
        "on exit, push the final metrics to this Prometheus Pushgateway",
        details: "`http://HOST[:PORT][/PATH]`; see [Observing a Job](operating.md#observing-a-job)")

    static let heartbeatSeconds = Setting<Duration>(
        "heartbeat-seconds", valueName: "seconds", variable: "WORKQUEUE_HEARTBEAT_SECONDS",
        default: WorkerOptions().heartbeatInterval ?? .zero, form: .seconds(allowZero: true),
        "how often to refresh this worker's record for `\(ProgramName.current) workers` (NAME:workers); 0 writes none",
        details: "also `NAME:worker-info`: written at start, a second later, then every S s, living 3 S, removed on a clean exit "
            + "(drained or SIGTERM)")

    static let keepRunning = Setting<Bool>(
        "keep-running", variable: "WORKQUEUE_KEEP_RUNNING", default: false, form: .toggle,
        "wait for new items instead of exiting when drained")

    static let onDrained = Setting<String?>(
        "on-drained", valueName: "command", variable: "WORKQUEUE_ON_DRAINED", default: nil,
        "run this shell command (/bin/sh -c) once for the whole fleet, in the worker that finds the queue drained first, "
            + "with the final counts in its environment",
        details: "at most once per drain, never re-run: see [The finish line](operating.md#the-finish-line); its failure "
            + "makes that worker exit 3; SIGTERM or SIGINT while it runs is passed on to it (exit 143); not with "
            + "--keep-running (exit 64)")

    // MARK: Other commands

    static let waitReplicas = Setting<Int>(
        "wait-replicas", valueName: "n", variable: "WORKQUEUE_WAIT_REPLICAS", default: 0, shown: "0, no wait",
        form: .whole(0...Int.max),
        "after each chunk, wait (WAIT) until this many replicas have it, else stop with exit 1: a failover cannot "
            + "then lose what was pushed", command: "push")

    static let waitSeconds = Setting<Duration>(
        "wait-seconds", valueName: "seconds", variable: "WORKQUEUE_WAIT_SECONDS", default: .seconds(5),
        form: .seconds(allowZero: false),
        "with --wait-replicas: how long to wait for the replicas per chunk", command: "push")

    static let statusPort = Setting<Int?>(
        "serve", valueName: "port", variable: "WORKQUEUE_STATUS_PORT", default: nil, form: .whole(0...65535),
        "serve the queue's counts as Prometheus gauges at http://0.0.0.0:PORT/metrics, and the web dashboard at /, until stopped",
        command: "status",
        details: "gauges read from Redis per scrape; see [Observing a Job](operating.md#observing-a-job) and [Dashboard](dashboard.md)")

    static let dashboardPort = Setting<Int>(
        "port", valueName: "port", variable: "WORKQUEUE_DASHBOARD_PORT", default: 8080, form: .whole(0...65535),
        "serve the web dashboard at http://BIND:PORT/ until stopped; 0 picks a free port", command: "dashboard",
        details: "see [Dashboard](dashboard.md)")

    static let bind = Setting<String>(
        "bind", valueName: "address", variable: "WORKQUEUE_DASHBOARD_BIND", default: "127.0.0.1",
        "the address the web dashboard listens on: 127.0.0.1 serves this machine only; 0.0.0.0 every interface (in a pod, "
            + "for a Service)", command: "dashboard",
        details: "`status --serve` takes it too, with default 0.0.0.0 there (Prometheus scrapes it from other pods); bound to "
            + "a loopback address, the page answers only requests naming localhost, 127.0.0.1 or [::1]")

    static let allowHost = Setting<String?>(
        "allow-host", valueName: "names", variable: "WORKQUEUE_DASHBOARD_ALLOW_HOSTS", default: nil, shown: "none: loopback only",
        "serve the dashboard (and so item bytes) to requests whose Host header names one of these hosts (comma-separated, "
            + "no port), besides localhost, 127.0.0.1 and [::1]", command: "dashboard",
        details: "`status --serve` takes it too. Bound to a non-loopback address (`--bind 0.0.0.0`, the default of `status --serve`), "
            + "the page and its API answer only requests that reached a loopback address naming a loopback host, requests naming "
            + "one of these hosts, or requests carrying the token (`Authorization: Bearer`); `/metrics` stays open to all")

    static let httpIdleSeconds = Setting<Duration>(
        "http-idle-seconds", valueName: "seconds", variable: "WORKQUEUE_HTTP_IDLE_SECONDS", default: .seconds(30),
        form: .seconds(allowZero: false),
        "close an HTTP connection of the dashboard or the metrics port idle for this long", command: "dashboard",
        details: "`status --serve` takes it too (`work --metrics-port` closes idle connections after 30 s); a request head still arriving "
            + "counts as idle, a body must arrive within 10 s, and at most 256 connections (fewer under a low open-file limit) are "
            + "open at once, later ones waiting in the backlog")

    static let tokenFile = Setting<String?>(
        "token-file", valueName: "path", variable: "WORKQUEUE_DASHBOARD_TOKEN_FILE", default: nil, shown: "none: actions disabled",
        "the token the dashboard's actions (retry, retry all, purge, pause, resume, cancel) must present, read from this file (trailing newline "
            + "stripped); without it the page only shows", command: "dashboard",
        details: "`status --serve` takes it too; a request without the token is refused (401, 403 when no file was given) "
            + "and nothing changes; an unreadable or empty file stops the command (exit 78)")

    static let resultsFollow = Setting<Bool>(
        "follow", variable: "WORKQUEUE_RESULTS_FOLLOW", default: false, form: .toggle,
        "keep writing new records as they are recorded until the queue is drained (as `wait` means it), then exit 0",
        command: "results")

    static let resultsConsume = Setting<Bool>(
        "consume", variable: "WORKQUEUE_RESULTS_CONSUME", default: false, form: .toggle,
        "delete each page of records from Redis once it was written and made durable (fsync) to the file of `--output` "
            + "or of stdout", command: "results",
        details: "a record is never deleted before it was written; refused (exit 64) when stdout is a pipe or socket without "
            + "`--output`; run one consuming `results` per queue at a time")

    static let resultsOutput = Setting<String?>(
        "output", valueName: "path", variable: "WORKQUEUE_RESULTS_OUTPUT", default: nil, shown: "stdout",
        "append the records to this file (created if missing; a CSV header only when it is empty) instead of stdout; "
            + "each page is fsynced before `--consume` deletes it", command: "results",
        details: "the safe way to consume: with `--consume` and no `--output`, stdout must be a file or a terminal, not a pipe "
            + "(a record written into a pipe is not read yet, and a reader that stops early would lose it; see "
            + "[Results](operating.md#results))")

    static let resultsCSV = Setting<Bool>(
        "csv", variable: "WORKQUEUE_RESULTS_CSV", default: false, form: .toggle,
        "write CSV (a header line, then one line per record) instead of JSON lines", command: "results")

    static let targetDrainSeconds = Setting<Duration>(
        "target-drain-seconds", valueName: "seconds", variable: "WORKQUEUE_TARGET_DRAIN_SECONDS", default: .seconds(300),
        form: .secondsBetween(1...604_800),
        "the time the scaling signal (wanted_workers: --json, and --serve's /scaling and /metrics) sizes the workers "
            + "to drain the queue's work in", command: "status",
        details: "wanted workers = ⌈(pending + in flight) ÷ (measured items per second per worker × this)⌉, at most one per item; "
            + "[docs/scaling.md](scaling.md) explains it and the KEDA ScaledJob that reads it")

    // MARK: Other commands' flags that read no variable

    static let openTTLSeconds = Setting<Duration>(
        "ttl-seconds", valueName: "seconds", default: .seconds(300), form: .secondsBetween(1...86_400),
        "how long the hold lives unless refreshed by another open; long because nothing refreshes it but you (push "
            + "--keep-open, which refreshes its own hold, defaults to 30 s)", command: "open")

    static let openHold = Setting<String?>(
        "hold", valueName: "name", default: nil, shown: Producer.operatorHold,
        "the hold's name, for `close --hold`; a second open with the same name refreshes it", command: "open")

    static let openReopen = Setting<Bool>(
        "reopen", default: false, form: .toggle,
        "open a queue that was drained and whose workers exited (deletes NAME:drained)", command: "open")

    static let closeHold = Setting<String?>(
        "hold", valueName: "name", default: nil, shown: "\(Producer.operatorHold), the hold open takes without --hold",
        "end this hold, as open --hold named it", command: "close")

    static let closeAll = Setting<Bool>(
        "all", default: false, form: .toggle,
        "end every hold on the queue (every producer's, and a NAME:open mark of an older version)", command: "close")

    static let pushFile = Setting<String?>(
        "file", valueName: "path", default: nil, "read items from this file, one per line", command: "push")

    static let pushKeepOpen = Setting<Bool>(
        "keep-open", default: false, form: .toggle,
        "mark the queue open while pushing, so that workers wait for the rest", command: "push")

    static let pushTTLSeconds = Setting<Duration>(
        "ttl-seconds", valueName: "seconds", default: .seconds(30), form: .secondsBetween(1...86_400),
        "with --keep-open: the hold's TTL, refreshed every third of it while the push runs; short so that a push that dies "
            + "releases the queue soon (open, which nothing refreshes, defaults to 300 s)", command: "push")

    static let pushHold = Setting<String?>(
        "hold", valueName: "name", default: nil, shown: "host:pid:random, unique to this push",
        "with --keep-open: the name of the push's hold; it is ended when the push ends", command: "push")

    static let pushReopen = Setting<Bool>(
        "reopen", default: false, form: .toggle,
        "push even if the queue was drained and its workers exited (deletes NAME:drained)", command: "push")

    static let pushDelay = Setting<String?>(
        "delay", valueName: "duration", default: nil,
        "keep the items scheduled (NAME:retry) for this long, then make them pending: 90 (seconds), 90s, 10m, 1h30m or 2d, "
            + "at most 366d; the workers do not exit before they ran", command: "push",
        details: "see [Delayed and unique pushes](redis.md#delayed-and-unique-pushes)")

    static let pushNotBefore = Setting<String?>(
        "not-before", valueName: "time", default: nil,
        "keep the items scheduled until this time: RFC 3339 (2026-12-07T22:00:00Z) or Unix seconds; a time past pushes at once",
        command: "push")

    static let pushUnique = Setting<Bool>(
        "unique", default: false, form: .toggle,
        "skip each item equal (byte for byte) to one pushed with --unique within the window, whether pending, scheduled, "
            + "in flight or done; prints how many it skipped", command: "push")

    static let pushUniqueWindow = Setting<String?>(
        "unique-window", valueName: "duration", default: nil, shown: "1h",
        "with --unique: how long after its push an item keeps equal ones out, 1s to 30d", command: "push")

    static let statusJSON = Setting<Bool>("json", default: false, form: .toggle, "print one JSON object", command: "status")

    static let statusByShard = Setting<Bool>(
        "by-shard", default: false, form: .toggle,
        "with --shards M: also show each shard's counts (the JSON always has them, in shards)", command: "status")

    static let statusWatch = Setting<Bool>("watch", default: false, form: .toggle, "refresh until the queue is drained", command: "status")

    static let statusInterval = Setting<Duration>(
        "interval", valueName: "seconds", default: .seconds(1), form: .secondsBetween(0.05...3600),
        "seconds between refreshes with --watch", command: "status")

    static let statusRetrySeconds = Setting<Duration>(
        "retry-seconds", valueName: "seconds", default: .seconds(30), form: .seconds(allowZero: true),
        "with --watch: how long to keep refreshing through Redis errors (each shown on the line) before exiting 1",
        command: "status")

    static let dashboardInterval = Setting<Duration>(
        "interval", valueName: "seconds", default: .seconds(1), form: .secondsBetween(0.2...3600),
        "seconds between refreshes (the page's and Redis' reads)", command: "dashboard")

    static let waitTimeout = Setting<Duration?>(
        "timeout", valueName: "seconds", default: nil, shown: "wait for ever", form: .seconds(allowZero: true),
        "give up after this many seconds, exit 124", command: "wait")

    static let waitJSON = Setting<Bool>(
        "json", default: false, form: .toggle, "print the final counts as one JSON object (status --json's fields)", command: "wait")

    static let waitInterval = Setting<Duration>(
        "interval", valueName: "seconds", default: .milliseconds(500), form: .secondsBetween(0.05...3600),
        "seconds between looks at the queue", command: "wait")

    static let waitRetrySeconds = Setting<Duration>(
        "retry-seconds", valueName: "seconds", default: .seconds(30), form: .seconds(allowZero: true),
        "how long to keep polling through Redis errors before exiting 1", command: "wait")

    static let workersJSON = Setting<Bool>("json", default: false, form: .toggle, "print one JSON object", command: "workers")

    static let workersItems = Setting<Int>(
        "items", valueName: "n", default: 10, form: .whole(0...10_000),
        "items shown per worker; 0 shows only the counts", command: "workers")

    static let deadReopen = Setting<Bool>(
        "reopen", default: false, form: .toggle,
        "with retry: retry into a queue that was drained and whose workers exited (deletes NAME:drained)", command: "dead")

    static let resumeRestore = Setting<Bool>(
        "restore", default: false, form: .toggle,
        "also move the items a cancel moved aside (NAME:cancelled) back to pending", command: "resume")

    static let reapGraceSeconds = Setting<Duration>(
        "grace-seconds", valueName: "seconds", default: RedisQueue.Options().recoveryGrace, form: .secondsBetween(0...600),
        "how long an item must stay leaseless before it is recovered", command: "reap")

    static let settingsMarkdown = Setting<Bool>(
        "markdown", default: false, form: .toggle,
        "print the settings tables of docs/commands.md (between their markers) instead of one line per setting",
        command: "settings")

    // MARK: Lists

    /// Every command's connection and logging settings (``QueueOptions``).
    static let common: [any SettingDescription] = [
        queue, shards, redis, cluster, redisPasswordFile, tlsCAFile, tlsCertFile, tlsKeyFile, connectTimeout, logLevel, logFormat,
    ]

    /// `work`'s own settings.
    static let work: [any SettingDescription] = [
        handler, plugin, symbol, signature, option, leaseSeconds, concurrency, prefetch, maxItemBytes, maxAttempts,
        retryBaseSeconds, retryMaxSeconds, itemTimeout, graceSeconds, recoverySeconds, backendRetrySeconds, requireNoEviction, resultsMax,
        rateLimit, heartbeatSeconds, keepRunning, metricsPort, metricsPush, onDrained,
    ]

    /// The other commands' settings that read a variable.
    static let others: [any SettingDescription] = [waitReplicas, waitSeconds, statusPort, dashboardPort, bind, allowHost, httpIdleSeconds,
                                                   tokenFile, resultsFollow, resultsConsume, resultsOutput, resultsCSV,
                                                   targetDrainSeconds]

    /// Every setting that reads a variable.
    static var all: [any SettingDescription] { common + work + others }

    /// The other commands' flags that read no variable (each declared for its one command, so
    /// a name such as `--interval` may come more than once, with its own default and range).
    static let flagsOnly: [any SettingDescription] = [
        openTTLSeconds, openHold, openReopen, closeHold, closeAll, pushFile, pushKeepOpen, pushTTLSeconds, pushHold, pushReopen,
        pushDelay, pushNotBefore, pushUnique, pushUniqueWindow,
        statusJSON, statusByShard, statusWatch, statusInterval, statusRetrySeconds, dashboardInterval, waitTimeout, waitJSON,
        waitInterval, waitRetrySeconds, workersJSON, workersItems, deadReopen, resumeRestore, reapGraceSeconds, settingsMarkdown,
    ]

    /// The flags each command takes, by command name: every flag of every command is declared
    /// here (CatalogTests walks the commands' definitions and fails on a flag missing from it).
    static var byCommand: [String: [any SettingDescription]] {
        var commands: [String: [any SettingDescription]] = ["work": common + work, "handlers": [], "settings": []]
        for name in ["push", "open", "close", "status", "dashboard", "wait", "workers", "dead", "results", "reap", "pause",
                     "resume", "cancel", "cancelled"] {
            commands[name] = common
        }
        for setting in others + flagsOnly {
            if let command = setting.command { commands[command, default: []].append(setting) }
        }
        // Declared for one command, taken by another too (see their details).
        commands["reap", default: []].append(maxAttempts)
        commands["status", default: []] += [bind, allowHost, httpIdleSeconds, tokenFile]
        return commands
    }

    /// The variables `work` reads, for its `--help`.
    static var workVariables: String {
        (common + work).compactMap(\.variable).joined(separator: ", ")
    }

    /// The settings tables of docs/commands.md, between the markers ``markdownBegin`` and ``markdownEnd``.
    static var markdown: String {
        let header = "| flag | variable | default | meaning |\n|---|---|---|---|\n"
        return """
            `work` flags, each with the environment variable it also reads (the flag wins; Kubernetes
            manifests set env). The connection and logging flags, `--queue` to `--log-format`, are
            every command's:

            \(header)\((common + work).map(\.markdownRow).joined(separator: "\n"))

            Other commands' flags that read a variable:

            \(header)\(others.map(\.markdownRow).joined(separator: "\n"))

            The other commands' remaining flags, which read no variable:

            \(header)\(flagsOnly.map(\.markdownRow).joined(separator: "\n"))
            """
    }

    static let markdownBegin = "<!-- settings: generated from Sources/WorkQueueCommand/Catalog.swift by `workqueue settings --markdown` -->"
    static let markdownEnd = "<!-- /settings -->"
}
