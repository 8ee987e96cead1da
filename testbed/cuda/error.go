package cuda

import "fmt"

// CUresult values the engine tells apart (cuda.h, enum cudaError_enum).
const (
	Success                = 0
	ErrorInvalidValue      = 1
	ErrorOutOfMemory       = 2
	ErrorNotInitialized    = 3
	ErrorEccUncorrectable  = 214
	ErrorInvalidHandle     = 400
	ErrorNotFound          = 500
	ErrorNotReady          = 600
	ErrorIllegalAddress    = 700
	ErrorLaunchOutOfRes    = 701
	ErrorLaunchTimeout     = 702
	ErrorHardwareStack     = 714
	ErrorLaunchFailed      = 719
	ErrorCaptureInvalidate = 901
	ErrorUnknown           = 999
)

var resultNames = map[int]string{
	0:   "CUDA_SUCCESS",
	1:   "CUDA_ERROR_INVALID_VALUE",
	2:   "CUDA_ERROR_OUT_OF_MEMORY",
	3:   "CUDA_ERROR_NOT_INITIALIZED",
	4:   "CUDA_ERROR_DEINITIALIZED",
	100: "CUDA_ERROR_NO_DEVICE",
	101: "CUDA_ERROR_INVALID_DEVICE",
	200: "CUDA_ERROR_INVALID_IMAGE",
	201: "CUDA_ERROR_INVALID_CONTEXT",
	214: "CUDA_ERROR_ECC_UNCORRECTABLE",
	400: "CUDA_ERROR_INVALID_HANDLE",
	401: "CUDA_ERROR_ILLEGAL_STATE",
	500: "CUDA_ERROR_NOT_FOUND",
	600: "CUDA_ERROR_NOT_READY",
	700: "CUDA_ERROR_ILLEGAL_ADDRESS",
	701: "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES",
	702: "CUDA_ERROR_LAUNCH_TIMEOUT",
	714: "CUDA_ERROR_HARDWARE_STACK_ERROR",
	715: "CUDA_ERROR_ILLEGAL_INSTRUCTION",
	716: "CUDA_ERROR_MISALIGNED_ADDRESS",
	717: "CUDA_ERROR_INVALID_ADDRESS_SPACE",
	718: "CUDA_ERROR_INVALID_PC",
	719: "CUDA_ERROR_LAUNCH_FAILED",
	720: "CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE",
	800: "CUDA_ERROR_NOT_PERMITTED",
	801: "CUDA_ERROR_NOT_SUPPORTED",
	900: "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED",
	901: "CUDA_ERROR_STREAM_CAPTURE_INVALIDATED",
	908: "CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD",
	999: "CUDA_ERROR_UNKNOWN",
}

// ResultName is the cuda.h name of a CUresult ("CUresult(N)" for one it does not know).
func ResultName(r int) string {
	if n, ok := resultNames[r]; ok {
		return n
	}
	return fmt.Sprintf("CUresult(%d)", r)
}

// Error is a driver call that returned a CUresult other than CUDA_SUCCESS.
type Error struct {
	Call   string // the exported symbol called, e.g. "cuEventSynchronize"
	Result int    // the CUresult it returned
}

func (e Error) Error() string {
	return fmt.Sprintf("%s: %s (%d)", e.Call, ResultName(e.Result), e.Result)
}

// Sticky says whether the error leaves the context unusable until the process restarts
// (700, 702, 714-719), as the design's sticky_fault class has it.
func (e Error) Sticky() bool { return IsSticky(e.Result) }

// IsSticky says whether a CUresult is a sticky fault.
func IsSticky(r int) bool {
	return r == ErrorIllegalAddress || r == ErrorLaunchTimeout || (r >= ErrorHardwareStack && r <= ErrorLaunchFailed)
}

// check turns a CUresult into nil or an Error.
func check(call string, r int) error {
	if r == Success {
		return nil
	}
	return Error{Call: call, Result: r}
}
