package gpu

import "math/bits"

// ThrottleReasons is NVML's bitmask of the reasons the clocks are held below their
// maximum (nvmlDeviceGetCurrentClocksEventReasons, formerly ...ThrottleReasons).
type ThrottleReasons uint64

// Bits of ThrottleReasons, copied from nvml.h (the macro each names); a test checks
// them against go-nvml's constants.
const (
	ThrottleGPUIdle                   ThrottleReasons = 0x1   // nvmlClocksEventReasonGpuIdle
	ThrottleApplicationsClocksSetting ThrottleReasons = 0x2   // nvmlClocksEventReasonApplicationsClocksSetting
	ThrottleSWPowerCap                ThrottleReasons = 0x4   // nvmlClocksEventReasonSwPowerCap
	ThrottleHWSlowdown                ThrottleReasons = 0x8   // nvmlClocksThrottleReasonHwSlowdown
	ThrottleSyncBoost                 ThrottleReasons = 0x10  // nvmlClocksEventReasonSyncBoost
	ThrottleSWThermalSlowdown         ThrottleReasons = 0x20  // nvmlClocksEventReasonSwThermalSlowdown
	ThrottleHWThermalSlowdown         ThrottleReasons = 0x40  // nvmlClocksThrottleReasonHwThermalSlowdown
	ThrottleHWPowerBrakeSlowdown      ThrottleReasons = 0x80  // nvmlClocksThrottleReasonHwPowerBrakeSlowdown
	ThrottleDisplayClockSetting       ThrottleReasons = 0x100 // nvmlClocksEventReasonDisplayClockSetting
	ThrottleBoardLimit                ThrottleReasons = 0x200 // nvmlClocksEventReasonBoardLimit
	ThrottleReliability               ThrottleReasons = 0x400 // nvmlClocksEventReasonReliability
)

// ThrottleOther is the reason name for bits this version does not know.
const ThrottleOther = "other"

// throttleNames lists every known reason in bit order with its snake_case name.
var throttleNames = [...]struct {
	bit  ThrottleReasons
	name string
}{
	{ThrottleGPUIdle, "gpu_idle"},
	{ThrottleApplicationsClocksSetting, "applications_clocks_setting"},
	{ThrottleSWPowerCap, "sw_power_cap"},
	{ThrottleHWSlowdown, "hw_slowdown"},
	{ThrottleSyncBoost, "sync_boost"},
	{ThrottleSWThermalSlowdown, "sw_thermal_slowdown"},
	{ThrottleHWThermalSlowdown, "hw_thermal_slowdown"},
	{ThrottleHWPowerBrakeSlowdown, "hw_power_brake_slowdown"},
	{ThrottleDisplayClockSetting, "display_clock_setting"},
	{ThrottleBoardLimit, "board_limit"},
	{ThrottleReliability, "reliability"},
}

// throttleKnown is the union of the known bits.
const throttleKnown = ThrottleGPUIdle | ThrottleApplicationsClocksSetting | ThrottleSWPowerCap |
	ThrottleHWSlowdown | ThrottleSyncBoost | ThrottleSWThermalSlowdown | ThrottleHWThermalSlowdown |
	ThrottleHWPowerBrakeSlowdown | ThrottleDisplayClockSetting | ThrottleBoardLimit | ThrottleReliability

// ThrottleReasonNames returns every reason name the package knows, in bit order, then
// ThrottleOther: the bounded set of values of a "reason" label.
func ThrottleReasonNames() []string {
	out := make([]string, 0, len(throttleNames)+1)
	for _, t := range throttleNames {
		out = append(out, t.name)
	}
	return append(out, ThrottleOther)
}

// Names returns the names of the active reasons in bit order; unknown bits add
// ThrottleOther once at the end. No reason gives an empty slice.
func (r ThrottleReasons) Names() []string {
	out := make([]string, 0, bits.OnesCount64(uint64(r)))
	for _, t := range throttleNames {
		if r&t.bit != 0 {
			out = append(out, t.name)
		}
	}
	if r&^throttleKnown != 0 {
		out = append(out, ThrottleOther)
	}
	return out
}

// Active reports whether the reason with the given name (one of ThrottleReasonNames)
// is active.
func (r ThrottleReasons) Active(name string) bool {
	if name == ThrottleOther {
		return r&^throttleKnown != 0
	}
	for _, t := range throttleNames {
		if t.name == name {
			return r&t.bit != 0
		}
	}
	return false
}
