package gpustep

import "strconv"

// CUresult values from cuda.h (enum cudaError_enum). Each constant is the macro of the
// same name.
const (
	Success                  int32 = 0   // CUDA_SUCCESS
	ErrInvalidValue          int32 = 1   // CUDA_ERROR_INVALID_VALUE
	ErrOutOfMemory           int32 = 2   // CUDA_ERROR_OUT_OF_MEMORY
	ErrNotInitialized        int32 = 3   // CUDA_ERROR_NOT_INITIALIZED
	ErrDeinitialized         int32 = 4   // CUDA_ERROR_DEINITIALIZED
	ErrNoDevice              int32 = 100 // CUDA_ERROR_NO_DEVICE
	ErrInvalidDevice         int32 = 101 // CUDA_ERROR_INVALID_DEVICE
	ErrInvalidImage          int32 = 200 // CUDA_ERROR_INVALID_IMAGE
	ErrInvalidContext        int32 = 201 // CUDA_ERROR_INVALID_CONTEXT
	ErrNoBinaryForGPU        int32 = 209 // CUDA_ERROR_NO_BINARY_FOR_GPU
	ErrECCUncorrectable      int32 = 214 // CUDA_ERROR_ECC_UNCORRECTABLE
	ErrNVLinkUncorrectable   int32 = 220 // CUDA_ERROR_NVLINK_UNCORRECTABLE
	ErrInvalidPTX            int32 = 218 // CUDA_ERROR_INVALID_PTX
	ErrInvalidHandle         int32 = 400 // CUDA_ERROR_INVALID_HANDLE
	ErrIllegalState          int32 = 401 // CUDA_ERROR_ILLEGAL_STATE
	ErrNotFound              int32 = 500 // CUDA_ERROR_NOT_FOUND
	ErrNotReady              int32 = 600 // CUDA_ERROR_NOT_READY
	ErrIllegalAddress        int32 = 700 // CUDA_ERROR_ILLEGAL_ADDRESS
	ErrLaunchOutOfResources  int32 = 701 // CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES
	ErrLaunchTimeout         int32 = 702 // CUDA_ERROR_LAUNCH_TIMEOUT
	ErrPeerAccessNotEnabled  int32 = 705 // CUDA_ERROR_PEER_ACCESS_NOT_ENABLED
	ErrContextIsDestroyed    int32 = 709 // CUDA_ERROR_CONTEXT_IS_DESTROYED
	ErrAssert                int32 = 710 // CUDA_ERROR_ASSERT
	ErrHardwareStackError    int32 = 714 // CUDA_ERROR_HARDWARE_STACK_ERROR
	ErrIllegalInstruction    int32 = 715 // CUDA_ERROR_ILLEGAL_INSTRUCTION
	ErrMisalignedAddress     int32 = 716 // CUDA_ERROR_MISALIGNED_ADDRESS
	ErrInvalidAddressSpace   int32 = 717 // CUDA_ERROR_INVALID_ADDRESS_SPACE
	ErrInvalidPC             int32 = 718 // CUDA_ERROR_INVALID_PC
	ErrLaunchFailed          int32 = 719 // CUDA_ERROR_LAUNCH_FAILED
	ErrCooperativeLaunchSize int32 = 720 // CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE
	ErrNotPermitted          int32 = 800 // CUDA_ERROR_NOT_PERMITTED
	ErrNotSupported          int32 = 801 // CUDA_ERROR_NOT_SUPPORTED
	ErrSystemNotReady        int32 = 802 // CUDA_ERROR_SYSTEM_NOT_READY
	ErrSystemDriverMismatch  int32 = 803 // CUDA_ERROR_SYSTEM_DRIVER_MISMATCH
	ErrStreamCaptureInvalid  int32 = 901 // CUDA_ERROR_STREAM_CAPTURE_INVALIDATED
	ErrTimeout               int32 = 909 // CUDA_ERROR_TIMEOUT
	ErrUnknown               int32 = 999 // CUDA_ERROR_UNKNOWN
)

var resultNames = map[int32]string{
	Success:                  "CUDA_SUCCESS",
	ErrInvalidValue:          "CUDA_ERROR_INVALID_VALUE",
	ErrOutOfMemory:           "CUDA_ERROR_OUT_OF_MEMORY",
	ErrNotInitialized:        "CUDA_ERROR_NOT_INITIALIZED",
	ErrDeinitialized:         "CUDA_ERROR_DEINITIALIZED",
	ErrNoDevice:              "CUDA_ERROR_NO_DEVICE",
	ErrInvalidDevice:         "CUDA_ERROR_INVALID_DEVICE",
	ErrInvalidImage:          "CUDA_ERROR_INVALID_IMAGE",
	ErrInvalidContext:        "CUDA_ERROR_INVALID_CONTEXT",
	ErrNoBinaryForGPU:        "CUDA_ERROR_NO_BINARY_FOR_GPU",
	ErrECCUncorrectable:      "CUDA_ERROR_ECC_UNCORRECTABLE",
	ErrNVLinkUncorrectable:   "CUDA_ERROR_NVLINK_UNCORRECTABLE",
	ErrInvalidPTX:            "CUDA_ERROR_INVALID_PTX",
	ErrInvalidHandle:         "CUDA_ERROR_INVALID_HANDLE",
	ErrIllegalState:          "CUDA_ERROR_ILLEGAL_STATE",
	ErrNotFound:              "CUDA_ERROR_NOT_FOUND",
	ErrNotReady:              "CUDA_ERROR_NOT_READY",
	ErrIllegalAddress:        "CUDA_ERROR_ILLEGAL_ADDRESS",
	ErrLaunchOutOfResources:  "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES",
	ErrLaunchTimeout:         "CUDA_ERROR_LAUNCH_TIMEOUT",
	ErrPeerAccessNotEnabled:  "CUDA_ERROR_PEER_ACCESS_NOT_ENABLED",
	ErrContextIsDestroyed:    "CUDA_ERROR_CONTEXT_IS_DESTROYED",
	ErrAssert:                "CUDA_ERROR_ASSERT",
	ErrHardwareStackError:    "CUDA_ERROR_HARDWARE_STACK_ERROR",
	ErrIllegalInstruction:    "CUDA_ERROR_ILLEGAL_INSTRUCTION",
	ErrMisalignedAddress:     "CUDA_ERROR_MISALIGNED_ADDRESS",
	ErrInvalidAddressSpace:   "CUDA_ERROR_INVALID_ADDRESS_SPACE",
	ErrInvalidPC:             "CUDA_ERROR_INVALID_PC",
	ErrLaunchFailed:          "CUDA_ERROR_LAUNCH_FAILED",
	ErrCooperativeLaunchSize: "CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE",
	ErrNotPermitted:          "CUDA_ERROR_NOT_PERMITTED",
	ErrNotSupported:          "CUDA_ERROR_NOT_SUPPORTED",
	ErrSystemNotReady:        "CUDA_ERROR_SYSTEM_NOT_READY",
	ErrSystemDriverMismatch:  "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH",
	ErrStreamCaptureInvalid:  "CUDA_ERROR_STREAM_CAPTURE_INVALIDATED",
	ErrTimeout:               "CUDA_ERROR_TIMEOUT",
	ErrUnknown:               "CUDA_ERROR_UNKNOWN",
}

// ResultName is the cuda.h name of a CUresult, or "CUresult(N)" for one not listed.
func ResultName(r int32) string {
	if n, ok := resultNames[r]; ok {
		return n
	}
	return "CUresult(" + strconv.Itoa(int(r)) + ")"
}

// Class is the class of a CUDA error (design.md, Definitions).
type Class string

// The CUDA error classes.
const (
	ClassOOM             Class = "oom"              // CUDA_ERROR_OUT_OF_MEMORY
	ClassStickyFault     Class = "sticky_fault"     // 700, 702, 714-719: the context is lost, the process must restart
	ClassECC             Class = "ecc"              // CUDA_ERROR_ECC_UNCORRECTABLE
	ClassLaunchResources Class = "launch_resources" // CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES
	ClassOther           Class = "other"
)

// Classes lists every Class, in a fixed order (the index of Usage.Errors).
var Classes = [...]Class{ClassOOM, ClassStickyFault, ClassECC, ClassLaunchResources, ClassOther}

const numClasses = len(Classes)

// IsError reports whether a return record's result is an error: neither CUDA_SUCCESS nor
// CUDA_ERROR_NOT_READY (the normal answer of a query on unfinished work).
func IsError(r int32) bool { return r != Success && r != ErrNotReady }

// Classify returns the class of an error result.
func Classify(r int32) Class { return Classes[classIndex(r)] }

func classIndex(r int32) int {
	switch {
	case r == ErrOutOfMemory:
		return 0
	case r == ErrIllegalAddress, r == ErrLaunchTimeout, r >= ErrHardwareStackError && r <= ErrLaunchFailed:
		return 1
	case r == ErrECCUncorrectable:
		return 2
	case r == ErrLaunchOutOfResources:
		return 3
	}
	return 4
}
