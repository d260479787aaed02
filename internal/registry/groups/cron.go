package groups

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// CronSchedule is a parsed standard cron schedule ("minute hour day-of-month month
// day-of-week", or a descriptor such as "@hourly" or "@every 1h30m"), the syntax a CronJob's
// spec.schedule accepts.
type CronSchedule struct {
	minute, hour, dom, month, dow uint64
	every                         time.Duration // "@every": a fixed interval instead of fields
	loc                           *time.Location
}

type cronBounds struct {
	min, max uint
	names    map[string]uint
}

var (
	cronMinutes = cronBounds{0, 59, nil}
	cronHours   = cronBounds{0, 23, nil}
	cronDom     = cronBounds{1, 31, nil}
	cronMonths  = cronBounds{1, 12, map[string]uint{
		"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
		"jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
	}}
	cronDow = cronBounds{0, 6, map[string]uint{
		"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6,
	}}
)

// starBit marks a field written as "*" or "?": day-of-month and day-of-week then do not
// restrict each other.
const starBit = 1 << 63

// ParseCronSchedule parses a standard 5-field cron spec, with an optional "TZ=" or
// "CRON_TZ=" prefix and the descriptors @yearly, @annually, @monthly, @weekly, @daily,
// @midnight, @hourly and "@every <duration>". Its errors are worded as those of the parser
// upstream uses (robfig/cron v3 ParseStandard), since they reach users in validation
// messages.
func ParseCronSchedule(spec string) (*CronSchedule, error) {
	if spec == "" {
		return nil, fmt.Errorf("empty spec string")
	}
	loc := time.Local
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		i := strings.Index(spec, " ")
		eq := strings.Index(spec, "=")
		if i < 0 {
			i = len(spec)
		}
		var err error
		if loc, err = time.LoadLocation(spec[eq+1 : i]); err != nil {
			return nil, fmt.Errorf("provided bad location %s: %v", spec[eq+1:i], err)
		}
		spec = strings.TrimSpace(spec[i:])
	}
	if strings.HasPrefix(spec, "@") {
		return parseCronDescriptor(spec, loc)
	}
	fields := strings.Fields(spec)
	if len(fields) != 5 {
		return nil, fmt.Errorf("expected exactly 5 fields, found %d: %s", len(fields), fields)
	}
	s := &CronSchedule{loc: loc}
	var err error
	for _, f := range []struct {
		dst  *uint64
		expr string
		b    cronBounds
	}{{&s.minute, fields[0], cronMinutes}, {&s.hour, fields[1], cronHours}, {&s.dom, fields[2], cronDom}, {&s.month, fields[3], cronMonths}, {&s.dow, fields[4], cronDow}} {
		if *f.dst, err = cronField(f.expr, f.b); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func parseCronDescriptor(d string, loc *time.Location) (*CronSchedule, error) {
	all := func(b cronBounds) uint64 { return cronBits(b.min, b.max, 1) | starBit }
	s := &CronSchedule{loc: loc, minute: 1 << 0, hour: 1 << 0, dom: all(cronDom), month: all(cronMonths), dow: all(cronDow)}
	switch d {
	case "@yearly", "@annually":
		s.dom, s.month = 1<<1, 1<<1
	case "@monthly":
		s.dom = 1 << 1
	case "@weekly":
		s.dom, s.dow = all(cronDom), 1<<0
	case "@daily", "@midnight":
	case "@hourly":
		s.hour = all(cronHours)
	default:
		const every = "@every "
		if !strings.HasPrefix(d, every) {
			return nil, fmt.Errorf("unrecognized descriptor: %s", d)
		}
		dur, err := time.ParseDuration(d[len(every):])
		if err != nil {
			return nil, fmt.Errorf("failed to parse duration %s: %s", d, err)
		}
		if dur < time.Second {
			dur = time.Second
		}
		s.every = dur - time.Duration(dur.Nanoseconds())%time.Second
	}
	return s, nil
}

func cronField(expr string, b cronBounds) (uint64, error) {
	var bits uint64
	for _, r := range strings.FieldsFunc(expr, func(r rune) bool { return r == ',' }) {
		bit, err := cronRange(r, b)
		if err != nil {
			return bits, err
		}
		bits |= bit
	}
	return bits, nil
}

func cronRange(expr string, b cronBounds) (uint64, error) {
	rangeAndStep := strings.Split(expr, "/")
	lowAndHigh := strings.Split(rangeAndStep[0], "-")
	single := len(lowAndHigh) == 1
	var start, end, step uint
	var extra uint64
	var err error
	if lowAndHigh[0] == "*" || lowAndHigh[0] == "?" {
		start, end, extra = b.min, b.max, starBit
	} else {
		if start, err = cronIntOrName(lowAndHigh[0], b.names); err != nil {
			return 0, err
		}
		switch len(lowAndHigh) {
		case 1:
			end = start
		case 2:
			if end, err = cronIntOrName(lowAndHigh[1], b.names); err != nil {
				return 0, err
			}
		default:
			return 0, fmt.Errorf("too many hyphens: %s", expr)
		}
	}
	switch len(rangeAndStep) {
	case 1:
		step = 1
	case 2:
		if step, err = cronInt(rangeAndStep[1]); err != nil {
			return 0, err
		}
		if single {
			end = b.max // "N/step" means "N-max/step"
		}
		if step > 1 {
			extra = 0
		}
	default:
		return 0, fmt.Errorf("too many slashes: %s", expr)
	}
	switch {
	case start < b.min:
		return 0, fmt.Errorf("beginning of range (%d) below minimum (%d): %s", start, b.min, expr)
	case end > b.max:
		return 0, fmt.Errorf("end of range (%d) above maximum (%d): %s", end, b.max, expr)
	case start > end:
		return 0, fmt.Errorf("beginning of range (%d) beyond end of range (%d): %s", start, end, expr)
	case step == 0:
		return 0, fmt.Errorf("step of range should be a positive number: %s", expr)
	}
	return cronBits(start, end, step) | extra, nil
}

func cronIntOrName(expr string, names map[string]uint) (uint, error) {
	if n, ok := names[strings.ToLower(expr)]; ok {
		return n, nil
	}
	return cronInt(expr)
}

func cronInt(expr string) (uint, error) {
	n, err := strconv.Atoi(expr)
	if err != nil {
		return 0, fmt.Errorf("failed to parse int from %s: %s", expr, err)
	}
	if n < 0 {
		return 0, fmt.Errorf("negative number (%d) not allowed: %s", n, expr)
	}
	return uint(n), nil
}

func cronBits(min, max, step uint) uint64 {
	var bits uint64
	for i := min; i <= max; i += step {
		bits |= 1 << i
	}
	return bits
}

// Next returns the first activation strictly after t, in t's location unless the spec named
// a time zone (TZ=…), or the zero time when none exists within five years.
func (s *CronSchedule) Next(t time.Time) time.Time {
	if s.every > 0 {
		return t.Add(s.every - time.Duration(t.Nanosecond())*time.Nanosecond)
	}
	orig := t.Location()
	loc := orig
	if s.loc != time.Local {
		loc = s.loc
	}
	t = t.In(loc).Add(time.Minute - time.Duration(t.Second())*time.Second - time.Duration(t.Nanosecond()))
	limit := t.Year() + 5
	for t.Year() <= limit {
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
			return t.In(orig)
		}
	}
	return time.Time{}
}

// dayMatches applies cron's rule: when both day fields are restricted, either may match.
func (s *CronSchedule) dayMatches(t time.Time) bool {
	domMatch := s.dom&(1<<uint(t.Day())) > 0
	dowMatch := s.dow&(1<<uint(t.Weekday())) > 0
	if s.dom&starBit > 0 || s.dow&starBit > 0 {
		return domMatch && dowMatch
	}
	return domMatch || dowMatch
}
