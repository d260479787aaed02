package cronjob

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// schedule is a parsed five-field cron expression.
type schedule struct {
	minute, hour, dom, month, dow uint64
	domStar, dowStar              bool
}

func descriptor(spec string) (string, bool) {
	switch strings.ToLower(spec) {
	case "@yearly", "@annually":
		return "0 0 1 1 *", true
	case "@monthly":
		return "0 0 1 * *", true
	case "@weekly":
		return "0 0 * * 0", true
	case "@daily", "@midnight":
		return "0 0 * * *", true
	case "@hourly":
		return "0 * * * *", true
	}
	return "", false
}

func monthName(s string) (int, bool) {
	i := strings.Index("janfebmaraprmayjunjulaugsepoctnovdec", strings.ToLower(s))
	if len(s) != 3 || i < 0 || i%3 != 0 {
		return 0, false
	}
	return i/3 + 1, true
}

func dayName(s string) (int, bool) {
	i := strings.Index("sunmontuewedthufrisat", strings.ToLower(s))
	if len(s) != 3 || i < 0 || i%3 != 0 {
		return 0, false
	}
	return i / 3, true
}

// parseSchedule parses the standard cron syntax: five fields of lists,
// ranges, steps, * and ?, month and weekday names, and the @yearly …
// @hourly descriptors.
func parseSchedule(spec string) (*schedule, error) {
	spec = strings.TrimSpace(spec)
	if d, ok := descriptor(spec); ok {
		spec = d
	}
	f := strings.Fields(spec)
	if len(f) != 5 {
		return nil, fmt.Errorf("expected exactly 5 fields, found %d: %q", len(f), spec)
	}
	s := &schedule{}
	var err error
	if s.minute, _, err = parseField(f[0], 0, 59, nil); err != nil {
		return nil, fmt.Errorf("minute: %w", err)
	}
	if s.hour, _, err = parseField(f[1], 0, 23, nil); err != nil {
		return nil, fmt.Errorf("hour: %w", err)
	}
	if s.dom, s.domStar, err = parseField(f[2], 1, 31, nil); err != nil {
		return nil, fmt.Errorf("day of month: %w", err)
	}
	if s.month, _, err = parseField(f[3], 1, 12, monthName); err != nil {
		return nil, fmt.Errorf("month: %w", err)
	}
	if s.dow, s.dowStar, err = parseField(f[4], 0, 7, dayName); err != nil {
		return nil, fmt.Errorf("day of week: %w", err)
	}
	if s.dow&(1<<7) != 0 { // 7 is Sunday too
		s.dow |= 1
	}
	return s, nil
}

func parseField(field string, lo, hi int, names func(string) (int, bool)) (bits uint64, star bool, err error) {
	for _, part := range strings.Split(field, ",") {
		rng, stepStr, hasStep := strings.Cut(part, "/")
		step := 1
		if hasStep {
			if step, err = strconv.Atoi(stepStr); err != nil || step <= 0 {
				return 0, false, fmt.Errorf("bad step %q", stepStr)
			}
		}
		var a, b int
		switch {
		case rng == "*" || rng == "?":
			a, b = lo, hi
			if !hasStep {
				star = true
			}
		default:
			first, last, isRange := strings.Cut(rng, "-")
			if a, err = value(first, names); err != nil {
				return 0, false, err
			}
			b = a
			if isRange {
				if b, err = value(last, names); err != nil {
					return 0, false, err
				}
			} else if hasStep {
				b = hi
			}
		}
		if a < lo || b > hi || a > b {
			return 0, false, fmt.Errorf("%q out of range [%d, %d]", part, lo, hi)
		}
		for v := a; v <= b; v += step {
			bits |= 1 << uint(v)
		}
	}
	return bits, star, nil
}

func value(s string, names func(string) (int, bool)) (int, error) {
	if names != nil {
		if v, ok := names(s); ok {
			return v, nil
		}
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("bad value %q", s)
	}
	return v, nil
}

func (s *schedule) dayMatches(t time.Time) bool {
	domOK := s.dom&(1<<uint(t.Day())) != 0
	dowOK := s.dow&(1<<uint(t.Weekday())) != 0
	if s.domStar || s.dowStar {
		return domOK && dowOK
	}
	return domOK || dowOK
}

// next returns the first activation strictly after t (in t's location), or
// the zero time if there is none within five years.
func (s *schedule) next(t time.Time) time.Time {
	loc := t.Location()
	t = t.Add(time.Minute - time.Duration(t.Second())*time.Second - time.Duration(t.Nanosecond()))
	limit := t.AddDate(5, 0, 0)
	for t.Before(limit) {
		switch {
		case s.month&(1<<uint(t.Month())) == 0:
			t = time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, loc)
		case !s.dayMatches(t):
			t = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, loc)
		case s.hour&(1<<uint(t.Hour())) == 0:
			t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour()+1, 0, 0, 0, loc)
		case s.minute&(1<<uint(t.Minute())) == 0:
			t = t.Add(time.Minute)
		default:
			return t
		}
	}
	return time.Time{}
}
