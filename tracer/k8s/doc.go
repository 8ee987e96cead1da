// Package k8s names the Kubernetes pod and container a process runs in, on the node and
// without the cluster API: a Resolver reads the container id and the pod UID out of the
// process's cgroup path (tracer/procfs's ContainerID and PodUID: cgroup v1 and v2, the
// cgroupfs and systemd kubelet drivers, containerd, CRI-O and docker), and the names out
// of the two directories the kubelet keeps for log shippers:
//
//	/var/log/pods/<namespace>_<pod>_<uid>/<container>/<restart>.log    (--path.pod-logs)
//	/var/log/containers/<pod>_<namespace>_<container>-<id>.log -> the file above
//
// The first maps a pod UID to its namespace and name and lists its container names; the
// second, whose links the kubelet makes for every runtime, maps a container id to its
// container name (and to the pod, when the cgroup path lacked the UID). Where the second
// is missing, a <restart>.log that is a symlink into the runtime's own log directory
// (docker's /var/lib/docker/containers/<id>/<id>-json.log) names the id, and a pod with
// a single container directory names its only container.
//
// Answers are cached: the index is rebuilt when older than a TTL and on a miss (at most
// once per MinRescan), so a pod scheduled after the last scan is named on its first
// lookup. The package only reads directories and links; every path is a field, so tests
// run on fixture trees under testdata/.
package k8s
