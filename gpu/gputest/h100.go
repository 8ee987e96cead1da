// Package gputest provides an 8-GPU NVIDIA H100 SXM5 80GB server for tests: go-nvml's
// dgxh100 mock (identity, memory size) with the telemetry the gpu package reads filled in
// with H100 figures, per-GPU figures a test can change, NVML errors a test can inject and
// an XID event set a test drives. Only tests import it.
package gputest

import (
	"fmt"
	"sync"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/dgxh100"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/server"
)

// GPUs is the number of GPUs of the server.
const GPUs = 8

// TotalMiB is the memory of one H100 SXM5 80GB as the dgxh100 mock reports it.
const TotalMiB = 81920

// Figures are one GPU's readings in NVML's own units.
type Figures struct {
	Utilization       uint32 // percent
	MemoryUtilization uint32 // percent
	MemoryUsedMiB     uint64 // free is TotalMiB minus this
	TemperatureC      uint32
	PowerMW           uint32
	PowerLimitMW      uint32
	SMClockMHz        uint32
	MemoryClockMHz    uint32
	Throttle          uint64 // clocks event reasons bitmask
	// ECC counts indexed [nvml.MemoryErrorType][nvml.EccCounterType].
	ECC       [2][2]uint64
	Processes []nvml.ProcessInfo
	// Fail makes the named device method (e.g. "GetTemperature") return the code
	// instead of its value.
	Fail map[string]nvml.Return
}

// H100Figures returns the default figures of GPU i: a loaded inference node, every GPU
// different so a value read from the wrong GPU shows.
func H100Figures(i int) Figures {
	throttle := []uint64{0, 0x4, 0, 0x48, 0x10, 0x2, 0x20, 0x1 | 0x800}
	f := Figures{
		Utilization:       40 + 7*uint32(i),
		MemoryUtilization: 20 + 3*uint32(i),
		MemoryUsedMiB:     60000 + 1000*uint64(i),
		TemperatureC:      45 + 4*uint32(i),
		PowerMW:           312500 + 50125*uint32(i),
		PowerLimitMW:      700000,
		SMClockMHz:        1980,
		MemoryClockMHz:    2619,
		Throttle:          throttle[i],
	}
	if i == 6 { // software thermal slowdown holds the SM clock down
		f.SMClockMHz = 1755
	}
	f.ECC[nvml.MEMORY_ERROR_TYPE_CORRECTED][nvml.VOLATILE_ECC] = uint64(i)
	f.ECC[nvml.MEMORY_ERROR_TYPE_CORRECTED][nvml.AGGREGATE_ECC] = 11 * uint64(i)
	if i == 5 {
		f.ECC[nvml.MEMORY_ERROR_TYPE_UNCORRECTED][nvml.VOLATILE_ECC] = 2
		f.ECC[nvml.MEMORY_ERROR_TYPE_UNCORRECTED][nvml.AGGREGATE_ECC] = 3
	}
	// One engine worker per GPU (pid 4100+i); GPU 0 also holds the API server's context.
	f.Processes = []nvml.ProcessInfo{{Pid: 4100 + uint32(i), UsedGpuMemory: (58000 + 1000*uint64(i)) << 20}}
	if i == 0 {
		f.Processes = append(f.Processes, nvml.ProcessInfo{Pid: 3900, UsedGpuMemory: 512 << 20})
	}
	return f
}

// Server is the mock NVML. It satisfies gpu.Library.
type Server struct {
	*server.Server

	mu         sync.Mutex
	figs       []Figures
	fail       map[string]nvml.Return // server-level methods: "Init", "DeviceGetCount", "EventSetCreate"
	registered map[int]uint64         // device index -> event types registered
	events     chan nvml.EventData
	lookup     map[string]bool // symbols reported missing
	shutdowns  int
	freed      int
}

// New returns the server with H100Figures on every GPU and fixed UUIDs (UUID(i)).
func New() *Server {
	s := &Server{
		Server:     dgxh100.New(),
		fail:       map[string]nvml.Return{},
		registered: map[int]uint64{},
		events:     make(chan nvml.EventData, 64),
		lookup:     map[string]bool{},
	}
	for i := range GPUs {
		s.figs = append(s.figs, H100Figures(i))
	}
	s.InitFunc = func() nvml.Return { return s.serverFail("Init") }
	s.ShutdownFunc = func() nvml.Return {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.shutdowns++
		return nvml.SUCCESS
	}
	count := s.DeviceGetCountFunc
	s.DeviceGetCountFunc = func() (int, nvml.Return) {
		if r := s.serverFail("DeviceGetCount"); r != nvml.SUCCESS {
			return 0, r
		}
		return count()
	}
	s.EventSetCreateFunc = s.eventSetCreate
	s.LookupSymbolFunc = func(name string) error {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.lookup[name] {
			return fmt.Errorf("symbol %s not found", name)
		}
		return nil
	}
	for i, d := range s.Devices {
		md := d.(*server.Device)
		md.UUID = UUID(i)
		s.wire(i, md)
	}
	return s
}

// UUID returns the fixed UUID of GPU i.
func UUID(i int) string { return fmt.Sprintf("GPU-6b1f0c3e-2d4a-4e8b-9c7d-5a0e1f2b3c%02d", i) }

// Set changes the figures of GPU i.
func (s *Server) Set(i int, change func(*Figures)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	change(&s.figs[i])
}

// FailServer makes a server-level method ("Init", "DeviceGetCount", "EventSetCreate")
// return ret.
func (s *Server) FailServer(method string, ret nvml.Return) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail[method] = ret
}

// HideSymbol makes LookupSymbol report the NVML function missing, as an older driver does.
func (s *Server) HideSymbol(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lookup[name] = true
}

// Shutdowns returns how many times Shutdown was called.
func (s *Server) Shutdowns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.shutdowns
}

// EventSetsFreed returns how many times an event set was freed.
func (s *Server) EventSetsFreed() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.freed
}

// Registered returns the event types GPU i registered for.
func (s *Server) Registered(i int) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.registered[i]
}

// InjectXID delivers an XID critical error of GPU gpu to the event set, as the driver
// does. It fails when the GPU did not register for XID events.
func (s *Server) InjectXID(gpu int, xid uint64) error {
	if s.Registered(gpu)&nvml.EventTypeXidCriticalError == 0 {
		return fmt.Errorf("gpu %d not registered for xid events", gpu)
	}
	s.events <- nvml.EventData{Device: s.Devices[gpu], EventType: nvml.EventTypeXidCriticalError, EventData: xid}
	return nil
}

// InjectEvent delivers any event data as is.
func (s *Server) InjectEvent(e nvml.EventData) { s.events <- e }

func (s *Server) serverFail(method string) nvml.Return {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.fail[method]; ok {
		return r
	}
	return nvml.SUCCESS
}

func (s *Server) eventSetCreate() (nvml.EventSet, nvml.Return) {
	if r := s.serverFail("EventSetCreate"); r != nvml.SUCCESS {
		return nil, r
	}
	set := &mock.EventSet{}
	set.WaitFunc = func(ms uint32) (nvml.EventData, nvml.Return) {
		select {
		case e := <-s.events:
			return e, nvml.SUCCESS
		case <-time.After(time.Duration(ms) * time.Millisecond):
			return nvml.EventData{}, nvml.ERROR_TIMEOUT
		}
	}
	set.FreeFunc = func() nvml.Return {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.freed++
		return nvml.SUCCESS
	}
	return set, nvml.SUCCESS
}
