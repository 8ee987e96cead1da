package k8s

import (
	"path/filepath"
	"sync"
	"time"

	"github.com/inferprobe/inferprobe/tracer/procfs"
)

// Defaults of the Resolver's zero fields.
const (
	DefaultPodLogs   = "/var/log/pods"
	DefaultTTL       = time.Minute
	DefaultMinRescan = time.Second
)

// Labels name the pod and container of a process. A field the node cannot tell is "".
type Labels struct {
	Namespace   string
	Pod         string
	Container   string
	PodUID      string
	ContainerID string
}

// Resolver turns cgroup paths into Labels. Its zero value reads /var/log/pods and
// /var/log/containers; it is safe for concurrent use. Set the fields before the first
// call and do not change them afterwards.
type Resolver struct {
	// PodLogs is the kubelet's pod logs directory (--path.pod-logs), /var/log/pods when "".
	PodLogs string
	// ContainerLogs is the kubelet's directory of container log links, by default the
	// "containers" directory beside PodLogs (/var/log/containers).
	ContainerLogs string
	// TTL is how long a scan's answers are trusted before the next lookup rescans
	// (DefaultTTL when 0). Pod UIDs and container ids are never reused, so a stale entry
	// is only ever a name that no longer runs.
	TTL time.Duration
	// MinRescan bounds how often lookups that miss rescan (DefaultMinRescan when 0), so
	// a process outside any known pod does not cost a scan per lookup.
	MinRescan time.Duration

	mu      sync.Mutex
	idx     index
	scanned time.Time // zero before the first scan
	err     error     // the last scan's error
	now     func() time.Time
}

// Labels returns the labels of the process whose cgroup path is cgroupPath (as
// procfs.ParseCgroup picks it) and whether that process runs in a Kubernetes pod. Outside
// a pod the result is false and Labels carries at most the ContainerID of a plain
// container. In a pod whose log directories cannot be read, it is true with only PodUID
// and ContainerID set.
func (r *Resolver) Labels(cgroupPath string) (Labels, bool) {
	l := Labels{ContainerID: procfs.ContainerID(cgroupPath), PodUID: procfs.PodUID(cgroupPath)}
	if l.ContainerID == "" && l.PodUID == "" {
		return l, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.clock()
	if r.scanned.IsZero() || now.Sub(r.scanned) >= r.ttl() {
		r.rescan(now)
	}
	if !r.idx.fill(&l) && now.Sub(r.scanned) >= r.minRescan() {
		r.rescan(now)
		r.idx.fill(&l)
	}
	return l, l.PodUID != ""
}

// Refresh rescans now and returns what could not be read: a missing pod logs directory
// means no pod names (mount the host's /var/log/pods), a missing container logs
// directory means container names only for docker and single-container pods. Labels
// works either way; the agent calls Refresh once at start to report the gap.
func (r *Resolver) Refresh() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rescan(r.clock())
	return r.err
}

func (r *Resolver) rescan(now time.Time) {
	r.idx, r.err = scan(r.podLogs(), r.containerLogs())
	r.scanned = now
}

// fill completes l from the index and reports whether it is complete: the pod is named
// and so is the container, when the cgroup path named one.
func (idx index) fill(l *Labels) bool {
	if c, ok := idx.containers[l.ContainerID]; ok && l.ContainerID != "" {
		l.Container = c.name
		if l.PodUID == "" {
			l.PodUID = c.uid
		}
		if l.PodUID == "" || c.uid == "" || l.PodUID == c.uid {
			l.Namespace, l.Pod = c.namespace, c.pod
		}
	}
	if p, ok := idx.pods[l.PodUID]; ok && l.PodUID != "" {
		l.Namespace, l.Pod = p.namespace, p.name
		if l.Container == "" && len(p.containers) == 1 {
			l.Container = p.containers[0]
		}
	}
	return l.Pod != "" && (l.Container != "" || l.ContainerID == "")
}

func (r *Resolver) podLogs() string {
	if r.PodLogs == "" {
		return DefaultPodLogs
	}
	return r.PodLogs
}

func (r *Resolver) containerLogs() string {
	if r.ContainerLogs == "" {
		return filepath.Join(filepath.Dir(filepath.Clean(r.podLogs())), "containers")
	}
	return r.ContainerLogs
}

func (r *Resolver) ttl() time.Duration {
	if r.TTL <= 0 {
		return DefaultTTL
	}
	return r.TTL
}

func (r *Resolver) minRescan() time.Duration {
	if r.MinRescan <= 0 {
		return DefaultMinRescan
	}
	return r.MinRescan
}

func (r *Resolver) clock() time.Time {
	if r.now != nil {
		return r.now()
	}
	return time.Now()
}
