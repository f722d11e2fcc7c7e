import Foundation

/// Our recommended Job (deploy/kubernetes/job-recommended.yaml) and KEDA ScaledJob
/// (keda-scaledjob.yaml) for one job.
enum Manifests {
    static func job(_ request: Request) -> String {
        """
        # Written by `swift package worker-image`: the worker pods drain the queue and exit 0.
        # As deploy/kubernetes/job-recommended.yaml: a bad flag, handler or plugin (exit 64, 78)
        # or a cancelled job (exit 4, `workqueue cancel`) fails the Job at once; a disrupted pod
        # is not counted against backoffLimit.
        apiVersion: batch/v1
        kind: Job
        metadata:
          name: \(request.job)
        spec:
          parallelism: \(request.parallelism)
          backoffLimit: 6
          podReplacementPolicy: Failed
          podFailurePolicy:
        \(podFailurePolicy(indent: "    "))
          template:
            spec:
        \(podSpec(request, indent: "      "))

        """
    }

    /// The name of the Deployment and Service serving the scaling signal.
    static func scalingName(_ request: Request) -> String {
        let name = request.job + "-scaling"
        return name.count <= 63 ? name : String(request.job.prefix(55)) + "-scaling"
    }

    /// The URL the KEDA operator reads: the Service's full name (KEDA resolves it from its own namespace).
    static func scalingURL(_ request: Request) -> String {
        "http://\(scalingName(request)).\(request.namespace).svc.cluster.local:8080/scaling"
    }

    static func scaledJob(_ request: Request) -> String {
        """
        # Written by `swift package worker-image --keda`: KEDA starts worker Jobs from the queue's
        # scaling signal, the workers it wants now (running ones included), which keda-scaling.yaml
        # serves (docs/scaling.md). With strategy default and a target of 1, each polling interval
        # starts (wanted workers) - (running Jobs) Jobs, capped by maxReplicaCount: the items the
        # running workers hold are in the signal, so they are neither counted twice nor ignored.
        # Producers push with --reopen: with KEDA the queue outlives any one Job.
        apiVersion: keda.sh/v1alpha1
        kind: ScaledJob
        metadata:
          name: \(request.job)
        spec:
          pollingInterval: 10
          maxReplicaCount: \(max(10, request.parallelism))
          successfulJobsHistoryLimit: 5
          failedJobsHistoryLimit: 5
          scalingStrategy:
            strategy: default
          jobTargetRef:
            backoffLimit: 6
            podFailurePolicy:
        \(podFailurePolicy(indent: "      "))
            template:
              spec:
        \(podSpec(request, indent: "        "))
          triggers:
            - type: metrics-api
              metadata:
                # `status --serve` of keda-scaling.yaml, in namespace \(request.namespace).
                url: \(yamlString(scalingURL(request)))
                valueLocation: "wanted_workers"
                targetValue: "1"

        """
    }

    /// `workqueue status --serve` for the ScaledJob: one small pod reading the queue's counts per
    /// request, behind a ClusterIP Service the KEDA operator reads `/scaling` from.
    static func scaling(_ request: Request) -> String {
        let name = scalingName(request)
        let environment = [("WORKQUEUE_QUEUE", request.queue), ("WORKQUEUE_TARGET_DRAIN_SECONDS", request.targetDrainSeconds)]
            .map { "  - name: \($0.0)\n    value: \(yamlString($0.1))" } + redisVariables(request)
        return """
        # Written by `swift package worker-image --keda`: the scaling signal of queue \(yamlString(request.queue))
        # (`status --serve`: /scaling for the ScaledJob's metrics-api trigger, /metrics for Prometheus),
        # read from Redis per request. The dashboard it also serves answers only the pod itself.
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: \(name)
        spec:
          replicas: 1
          selector:
            matchLabels:
              app: \(name)
          template:
            metadata:
              labels:
                app: \(name)
            spec:
              containers:
                - name: scaling
                  image: \(yamlString(request.image))
                  imagePullPolicy: \(request.imagePullPolicy)
                  args: ["status", "--serve", "8080"]
                  resources:
                    requests:
                      cpu: "50m"
                      memory: "64Mi"
                    limits:
                      memory: "256Mi"
                  env:
        \(environment.map { "          " + $0.replacingOccurrences(of: "\n", with: "\n          ") }.joined(separator: "\n"))
                  ports:
                    - name: http
                      containerPort: 8080
                  readinessProbe:
                    httpGet:
                      path: /scaling
                      port: http
        ---
        apiVersion: v1
        kind: Service
        metadata:
          name: \(name)
        spec:
          type: ClusterIP
          selector:
            app: \(name)
          ports:
            - name: http
              port: 8080
              targetPort: http

        """
    }

    private static func podFailurePolicy(indent: String) -> String {
        """
        rules:
          - action: FailJob
            onExitCodes:
              containerName: c
              operator: In
              values: [4, 64, 78]
          - action: Ignore
            onPodConditions:
              - type: DisruptionTarget
                status: "True"
        """.split(separator: "\n").map { indent + $0 }.joined(separator: "\n")
    }

    private static func podSpec(_ request: Request, indent: String) -> String {
        var environment = [("WORKQUEUE_QUEUE", request.queue), ("WORKQUEUE_SHUTDOWN_GRACE_SECONDS", "30")]
        if !request.options.isEmpty { environment.append(("WORKQUEUE_OPTIONS", request.options.joined(separator: ","))) }
        let variables = environment.map { "      - name: \($0.0)\n        value: \(yamlString($0.1))" }
            + redisVariables(request).map { "    " + $0.replacingOccurrences(of: "\n", with: "\n    ") }
        let resources = request.resources
        var resourceLines = ["requests:", "  cpu: \(yamlString(resources.cpuRequest))",
                             "  memory: \(yamlString(resources.memoryRequest))"]
        let limits = [("cpu", resources.cpuLimit), ("memory", resources.memoryLimit)].compactMap { name, value in
            value.map { "  \(name): \(yamlString($0))" }
        }
        if !limits.isEmpty { resourceLines += ["limits:"] + limits }
        return """
            # Never: the Job controller, not the kubelet, decides on retries (podFailurePolicy).
            restartPolicy: Never
            # Longer than the worker's own grace, so in-flight items finish or are released first.
            terminationGracePeriodSeconds: 45
            containers:
              - name: c
                image: \(yamlString(request.image))
                # \(request.imagePullPolicy == "Always" ? "A moving tag: pulled at every start." : "A pinned tag: a node's copy is the image.")
                imagePullPolicy: \(request.imagePullPolicy)
                args: ["work"]
                resources:
            \(resourceLines.map { "      " + $0 }.joined(separator: "\n"))
                env:
            \(variables.joined(separator: "\n"))
            """.split(separator: "\n").map { indent + $0 }.joined(separator: "\n")
    }

    /// The container's `REDIS_URL` (a value, or the Secret's `url` key), as `env` entries two
    /// spaces in.
    private static func redisVariables(_ request: Request) -> [String] {
        switch request.redis {
        case let .url(url, _, _):
            return ["  - name: REDIS_URL\n    value: \(yamlString(url))"]
        case let .secret(name):
            return [["  - name: REDIS_URL", "    valueFrom:", "      secretKeyRef:",
                     "        name: \(yamlString(name))", "        key: url"].joined(separator: "\n")]
        }
    }

    /// A YAML double-quoted scalar.
    static func yamlString(_ value: String) -> String {
        "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
