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
                address: \(request.redisAddress)
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

    private static func podSpec(_ request: Request, indent: String) -> String {
        var environment = [("WORKQUEUE_QUEUE", request.queue), ("WORKQUEUE_SHUTDOWN_GRACE_SECONDS", "30")]
        if !request.options.isEmpty { environment.append(("WORKQUEUE_OPTIONS", request.options.joined(separator: ","))) }
        return """
            # Never: the Job controller, not the kubelet, decides on retries (podFailurePolicy).
            restartPolicy: Never
            # Longer than the worker's own grace, so in-flight items finish or are released first.
            terminationGracePeriodSeconds: 45
            containers:
              - name: c
                image: \(yamlString(request.image))
                args: ["work"]
                env:
            \(environment.map { "      - name: \($0.0)\n        value: \(yamlString($0.1))" }.joined(separator: "\n"))
            """.split(separator: "\n").map { indent + $0 }.joined(separator: "\n")
    }

    /// A YAML double-quoted scalar.
    static func yamlString(_ value: String) -> String {
        "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
