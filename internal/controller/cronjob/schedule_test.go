package cronjob

import (
	"testing"
	"time"
)

func TestSchedule(t *testing.T) {
	base := time.Date(2026, 1, 1, 12, 0, 30, 0, time.UTC) // a Thursday
	tests := []struct {
		spec string
		want string
	}{
		{"* * * * *", "2026-01-01T12:01:00Z"},
		{"*/5 * * * *", "2026-01-01T12:05:00Z"},
		{"0 * * * *", "2026-01-01T13:00:00Z"},
		{"@hourly", "2026-01-01T13:00:00Z"},
		{"30 2 * * *", "2026-01-02T02:30:00Z"},
		{"0 0 * * MON", "2026-01-05T00:00:00Z"},
		{"0 0 1 FEB *", "2026-02-01T00:00:00Z"},
		{"15,45 12-13 * * *", "2026-01-01T12:15:00Z"},
		{"0 9 13 * 5", "2026-01-02T09:00:00Z"}, // Friday the 2nd (dom OR dow)
		{"@yearly", "2027-01-01T00:00:00Z"},
		{"0 0 * * 7", "2026-01-04T00:00:00Z"},
	}
	for _, tc := range tests {
		s, err := parseSchedule(tc.spec)
		if err != nil {
			t.Errorf("%q: %v", tc.spec, err)
			continue
		}
		if got := s.next(base).Format(time.RFC3339); got != tc.want {
			t.Errorf("next(%q) = %s, want %s", tc.spec, got, tc.want)
		}
	}
	for _, bad := range []string{"", "* * * *", "60 * * * *", "* * 0 * *", "*/0 * * * *", "a b c d e"} {
		if _, err := parseSchedule(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}
