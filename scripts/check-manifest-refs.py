#!/usr/bin/env python3
"""Checks what the Kubernetes schemas cannot, in the manifests `worker-image` writes:

- every container image is a full reference a cluster can pull as written: a registry
  (`registry.example.com/...`, `localhost/...`), and a tag or digest; its `imagePullPolicy` is
  `Always` for a moving tag (`latest`) and `IfNotPresent` otherwise;
- every worker container sets `REDIS_URL` (a value, or a Secret's `url` key);
- every KEDA redis trigger names the same Redis as the worker it scales: its `address` is the
  HOST:PORT of the container's `REDIS_URL`, or its `addressFromEnv` is a variable of that
  container read from the same Secret as `REDIS_URL`;
- every worker container has resource requests (cpu and memory);
- every KEDA metrics-api trigger reads `/scaling` from a Service among the manifests given (by
  its full name `NAME.NAMESPACE.svc...`) whose Deployment runs `status --serve` on that port for
  the ScaledJob's queue (`WORKQUEUE_QUEUE`) and Redis (`REDIS_URL`, the same value or Secret).

Usage: check-manifest-refs.py MANIFEST...   Prints one line per problem; exits 1 on any.
"""
import sys
from urllib.parse import urlsplit

import yaml


def containers_of(document):
    kind = document.get("kind")
    spec = document.get("spec") or {}
    if kind == "Job":
        template = spec.get("template") or {}
    elif kind == "ScaledJob":
        template = (spec.get("jobTargetRef") or {}).get("template") or {}
    elif kind in ("Deployment", "StatefulSet", "DaemonSet"):
        template = spec.get("template") or {}
    elif kind == "Pod":
        template = {"spec": spec}
    else:
        return []
    return (template.get("spec") or {}).get("containers") or []


def image_problem(image, policy):
    rest = image.split("@", 1)[0]
    digest = "@" in image
    parts = rest.split("/")
    registry = parts[0] if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost") else None
    last = parts[-1]
    tag = last.rsplit(":", 1)[1] if ":" in last else None
    if registry is None:
        return f"image {image!r} names no registry (a cluster would look for it on Docker Hub)"
    if tag is None and not digest:
        return f"image {image!r} has no tag or digest"
    moving = not digest and tag == "latest"
    wanted = "Always" if moving else "IfNotPresent"
    if policy != wanted:
        return f"image {image!r} has imagePullPolicy {policy!r}, expected {wanted!r}"
    return None


def env_map(container):
    return {entry.get("name"): entry for entry in container.get("env") or []}


def secret_of(entry):
    ref = ((entry or {}).get("valueFrom") or {}).get("secretKeyRef") or {}
    return ref.get("name"), ref.get("key")


def check(path):
    problems = []
    with open(path) as handle:
        documents = [d for d in yaml.safe_load_all(handle) if d]
    for document in documents:
        name = f"{path}: {document.get('kind')} {(document.get('metadata') or {}).get('name')}"
        containers = containers_of(document)
        for container in containers:
            where = f"{name}, container {container.get('name')}"
            problem = image_problem(str(container.get("image", "")), container.get("imagePullPolicy"))
            if problem:
                problems.append(f"{where}: {problem}")
            env = env_map(container)
            if "REDIS_URL" not in env:
                problems.append(f"{where}: no REDIS_URL (the worker would rely on a Service named redis in its namespace)")
            requests = ((container.get("resources") or {}).get("requests") or {})
            if "cpu" not in requests or "memory" not in requests:
                problems.append(f"{where}: no cpu and memory requests")
        if document.get("kind") == "ScaledJob":
            worker = containers[0] if containers else {}
            env = env_map(worker)
            url_entry = env.get("REDIS_URL") or {}
            for trigger in (document.get("spec") or {}).get("triggers") or []:
                if trigger.get("type") != "redis":
                    continue
                metadata = trigger.get("metadata") or {}
                if "address" in metadata:
                    value = url_entry.get("value")
                    if not url_entry:
                        problems.append(f"{name}: the trigger's address {metadata['address']!r}, and no REDIS_URL to agree with")
                        continue
                    if value is None:
                        problems.append(f"{name}: the trigger's address {metadata['address']!r} but REDIS_URL comes from a Secret")
                        continue
                    split = urlsplit(value)
                    address = f"{split.hostname}:{split.port or 6379}"
                    if metadata["address"] != address:
                        problems.append(f"{name}: the trigger's address {metadata['address']!r} is not REDIS_URL's {address!r}")
                elif "addressFromEnv" in metadata:
                    variable = metadata["addressFromEnv"]
                    secret, _ = secret_of(env.get(variable))
                    url_secret, _ = secret_of(url_entry)
                    if secret is None or secret != url_secret:
                        problems.append(f"{name}: the trigger's addressFromEnv {variable} is not read from REDIS_URL's Secret {url_secret!r}")
                else:
                    problems.append(f"{name}: a redis trigger without address or addressFromEnv")
    return problems


def scaling_problems(paths):
    """The metrics-api triggers against the Services and Deployments of all the manifests."""
    documents = []
    for path in paths:
        with open(path) as handle:
            documents += [(path, d) for d in yaml.safe_load_all(handle) if d]
    services = {(d.get("metadata") or {}).get("name"): d for _, d in documents if d.get("kind") == "Service"}
    deployments = [d for _, d in documents if d.get("kind") == "Deployment"]
    problems = []
    for path, document in documents:
        if document.get("kind") != "ScaledJob":
            continue
        name = f"{path}: ScaledJob {(document.get('metadata') or {}).get('name')}"
        containers = containers_of(document)
        worker_env = env_map(containers[0]) if containers else {}
        for trigger in (document.get("spec") or {}).get("triggers") or []:
            if trigger.get("type") != "metrics-api":
                continue
            metadata = trigger.get("metadata") or {}
            url = urlsplit(metadata.get("url", ""))
            host = url.hostname or ""
            if not host.endswith(".svc.cluster.local") or url.path != "/scaling":
                problems.append(f"{name}: the trigger's url {metadata.get('url')!r} is not a Service's full name with /scaling")
                continue
            if metadata.get("valueLocation") != "wanted_workers":
                problems.append(f"{name}: the trigger's valueLocation is not wanted_workers")
            service = services.get(host.split(".")[0])
            if service is None:
                problems.append(f"{name}: no Service {host.split('.')[0]!r} among the manifests for {metadata.get('url')!r}")
                continue
            selector = (service.get("spec") or {}).get("selector") or {}
            served = [d for d in deployments
                      if selector and all((((d.get("spec") or {}).get("template") or {}).get("metadata") or {})
                                          .get("labels", {}).get(k) == v for k, v in selector.items())]
            if not served:
                problems.append(f"{name}: the Service {host.split('.')[0]!r} selects no Deployment among the manifests")
                continue
            container = (containers_of(served[0]) or [{}])[0]
            args = container.get("args") or []
            if args[:2] != ["status", "--serve"] or len(args) < 3 or str(url.port) != str(args[2]):
                problems.append(f"{name}: the Service's Deployment does not run `status --serve {url.port}` (args {args})")
            env = env_map(container)
            for variable in ("WORKQUEUE_QUEUE", "REDIS_URL"):
                if (env.get(variable) or {}).get("value") != (worker_env.get(variable) or {}).get("value") \
                        or secret_of(env.get(variable)) != secret_of(worker_env.get(variable)):
                    problems.append(f"{name}: the signal's {variable} is not the workers'")
    return problems


def main(paths):
    problems = [p for path in paths for p in check(path)] + scaling_problems(paths)
    for problem in problems:
        print(f"check-manifest-refs: {problem}")
    print(f"check-manifest-refs: {len(paths)} manifest(s), {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
