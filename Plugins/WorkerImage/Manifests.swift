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

    static func scaledJob(_ request: Request) -> String {
        """
        # Written by `swift package worker-image --keda`: KEDA starts worker Jobs while the queue's
        # list has pending items (as deploy/kubernetes/keda-scaledjob.yaml). Producers push with
        # --reopen: with KEDA the queue outlives any one Job.
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
            strategy: accurate
          jobTargetRef:
            backoffLimit: 6
            podFailurePolicy:
        \(podFailurePolicy(indent: "      "))
            template:
              spec:
        \(podSpec(request, indent: "        "))
          triggers:
            - type: redis
              metadata:
        \(trigger(request))
                listName: \(yamlString(request.queue))
                listLength: "1"

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

    /// The KEDA scaler's address: the one the worker's `REDIS_URL` names.
    private static func trigger(_ request: Request) -> String {
        let lines: [String]
        switch request.redis {
        case let .url(_, address, tls):
            lines = ["# The Redis of the worker's REDIS_URL.", "address: \(yamlString(address))"]
                + (tls ? ["enableTLS: \"true\""] : [])
        case .secret:
            lines = ["# From the worker container's environment: the same Secret as its REDIS_URL.",
                     "addressFromEnv: REDIS_ADDRESS", "passwordFromEnv: REDIS_PASSWORD"]
        }
        return lines.map { "        " + $0 }.joined(separator: "\n")
    }

    private static func podSpec(_ request: Request, indent: String) -> String {
        var environment = [("WORKQUEUE_QUEUE", request.queue), ("WORKQUEUE_SHUTDOWN_GRACE_SECONDS", "30")]
        if !request.options.isEmpty { environment.append(("WORKQUEUE_OPTIONS", request.options.joined(separator: ","))) }
        var variables = environment.map { "      - name: \($0.0)\n        value: \(yamlString($0.1))" }
        switch request.redis {
        case let .url(url, _, _):
            variables.append("      - name: REDIS_URL\n        value: \(yamlString(url))")
        case let .secret(name):
            for (variable, key, optional) in [("REDIS_URL", "url", false), ("REDIS_ADDRESS", "address", false),
                                              ("REDIS_PASSWORD", "password", true)] {
                let lines = ["      - name: \(variable)", "        valueFrom:", "          secretKeyRef:",
                             "            name: \(yamlString(name))", "            key: \(key)"]
                    + (optional ? ["            optional: true"] : [])
                variables.append(lines.joined(separator: "\n"))
            }
        }
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

    /// A YAML double-quoted scalar.
    static func yamlString(_ value: String) -> String {
        "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
