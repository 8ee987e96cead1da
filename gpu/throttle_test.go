package gpu

import (
	"slices"
	"testing"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// The bits copied from nvml.h must equal go-nvml's constants.
func TestThrottleBitsMatchNVML(t *testing.T) {
	for _, c := range []struct {
		ours ThrottleReasons
		nvml uint64
	}{
		{ThrottleGPUIdle, nvml.ClocksEventReasonGpuIdle},
		{ThrottleApplicationsClocksSetting, nvml.ClocksEventReasonApplicationsClocksSetting},
		{ThrottleSWPowerCap, nvml.ClocksEventReasonSwPowerCap},
		{ThrottleHWSlowdown, nvml.ClocksThrottleReasonHwSlowdown},
		{ThrottleSyncBoost, nvml.ClocksEventReasonSyncBoost},
		{ThrottleSWThermalSlowdown, nvml.ClocksEventReasonSwThermalSlowdown},
		{ThrottleHWThermalSlowdown, nvml.ClocksThrottleReasonHwThermalSlowdown},
		{ThrottleHWPowerBrakeSlowdown, nvml.ClocksThrottleReasonHwPowerBrakeSlowdown},
		{ThrottleDisplayClockSetting, nvml.ClocksEventReasonDisplayClockSetting},
		{ThrottleBoardLimit, nvml.ClocksEventReasonBoardLimit},
		{ThrottleReliability, nvml.ClocksEventReasonReliability},
	} {
		if uint64(c.ours) != c.nvml {
			t.Errorf("bit %#x, nvml.h says %#x", uint64(c.ours), c.nvml)
		}
	}
	if uint64(throttleKnown) != nvml.ClocksEventReasonAll {
		t.Errorf("known bits %#x, nvmlClocksEventReasonAll %#x", uint64(throttleKnown), nvml.ClocksEventReasonAll)
	}
}

func TestThrottleNames(t *testing.T) {
	for _, c := range []struct {
		mask ThrottleReasons
		want []string
	}{
		{0, []string{}},
		{0x1, []string{"gpu_idle"}},
		{0x2, []string{"applications_clocks_setting"}},
		{0x4, []string{"sw_power_cap"}},
		{0x8, []string{"hw_slowdown"}},
		{0x10, []string{"sync_boost"}},
		{0x20, []string{"sw_thermal_slowdown"}},
		{0x40, []string{"hw_thermal_slowdown"}},
		{0x80, []string{"hw_power_brake_slowdown"}},
		{0x100, []string{"display_clock_setting"}},
		{0x48, []string{"hw_slowdown", "hw_thermal_slowdown"}},
		{0x1 | 0x800, []string{"gpu_idle", "other"}},
		{1 << 63, []string{"other"}},
		{0x7ff, []string{"gpu_idle", "applications_clocks_setting", "sw_power_cap", "hw_slowdown", "sync_boost",
			"sw_thermal_slowdown", "hw_thermal_slowdown", "hw_power_brake_slowdown", "display_clock_setting",
			"board_limit", "reliability"}},
	} {
		got := c.mask.Names()
		if !slices.Equal(got, c.want) {
			t.Errorf("%#x: names %q, want %q", uint64(c.mask), got, c.want)
		}
		for _, name := range ThrottleReasonNames() {
			if want := slices.Contains(c.want, name); c.mask.Active(name) != want {
				t.Errorf("%#x: Active(%q) = %v, want %v", uint64(c.mask), name, !want, want)
			}
		}
	}
	if n := len(ThrottleReasonNames()); n != 12 {
		t.Errorf("%d reason names, want 11 known + other", n)
	}
	if ThrottleReasons(0x7ff).Active("no_such_reason") {
		t.Error("an unknown name is active")
	}
}
