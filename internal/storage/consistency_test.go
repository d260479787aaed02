package storage

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
)

// TestWatchersReconstructState runs random creates, updates and deletes from several writers
// while watchers start at different moments (from "0" and from a list's RV). Each watcher
// applies its events to a map; at the end every map must equal the final consistent list.
func TestWatchersReconstructState(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := newTestStore(t, nil)

	type state map[string]int64 // name -> RV
	apply := func(st state, ev Event) error {
		switch ev.Type {
		case watch.Added:
			if _, ok := st[ev.Entry.Name]; ok {
				return fmt.Errorf("ADDED %s twice", ev.Entry.Name)
			}
			st[ev.Entry.Name] = ev.Entry.RV
		case watch.Modified:
			if old, ok := st[ev.Entry.Name]; !ok || old >= ev.Entry.RV {
				return fmt.Errorf("MODIFIED %s@%d over %v", ev.Entry.Name, ev.Entry.RV, st[ev.Entry.Name])
			}
			st[ev.Entry.Name] = ev.Entry.RV
		case watch.Deleted:
			if _, ok := st[ev.Entry.Name]; !ok {
				return fmt.Errorf("DELETED %s that was not there", ev.Entry.Name)
			}
			delete(st, ev.Entry.Name)
		case watch.Error:
			return fmt.Errorf("ERROR %v", ev.Status)
		}
		return nil
	}

	type follower struct {
		st      state
		lastRV  int64
		err     error
		stopped chan struct{}
	}
	var fmu sync.Mutex
	var followers []*follower
	// follow starts a watch. From "0" it asks for initial events with an end marker: their
	// RVs are the objects' own, in key order; only later events must come in RV order.
	follow := func(st state, rv string) {
		opts := WatchOptions{ResourceVersion: rv, AllowBookmarks: true}
		initial := rv == "0"
		if initial {
			yes := true
			opts.SendInitialEvents = &yes
		}
		ch, err := s.configMaps.Watch(ctx, opts)
		if err != nil {
			t.Error(err)
			return
		}
		f := &follower{st: st, stopped: make(chan struct{})}
		fmu.Lock()
		followers = append(followers, f)
		fmu.Unlock()
		go func() {
			defer close(f.stopped)
			for ev := range ch {
				fmu.Lock()
				if ev.InitialEventsEnd {
					initial = false
				}
				if f.err == nil {
					if ev.Entry != nil && !initial {
						if ev.Entry.RV < f.lastRV {
							f.err = fmt.Errorf("event RV %d after %d", ev.Entry.RV, f.lastRV)
						}
						f.lastRV = ev.Entry.RV
					}
					if f.err == nil && ev.Type != watch.Bookmark {
						f.err = apply(f.st, ev)
					}
				}
				fmu.Unlock()
			}
		}()
	}

	follow(state{}, "0")
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(w), 7))
			for i := 0; i < 150; i++ {
				name := "cm" + strconv.Itoa(rnd.IntN(30))
				var err error
				switch rnd.IntN(3) {
				case 0:
					_, err = s.configMaps.Create(ctx, cm("ns", name))
				case 1:
					_, err = s.configMaps.Update(ctx, "ns", name, func(cur runtime.Object) (runtime.Object, error) {
						c := cur.(*corev1.ConfigMap)
						c.Data["i"] = strconv.Itoa(i)
						return c, nil
					})
				case 2:
					_, err = s.configMaps.Delete(ctx, "ns", name, nil)
				}
				if err != nil && !apierrors.IsAlreadyExists(err) && !apierrors.IsNotFound(err) {
					t.Error(err)
					return
				}
			}
		}(w)
	}
	// Start more followers while the writers run: from "0" and from a list.
	for i := 0; i < 3; i++ {
		time.Sleep(20 * time.Millisecond)
		follow(state{}, "0")
		res, err := s.configMaps.List(ctx, ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		st := state{}
		for _, e := range res.Entries {
			st[e.Name] = e.RV
		}
		follow(st, strconv.FormatInt(res.ResourceVersion, 10))
	}
	wg.Wait()

	final, err := s.configMaps.List(ctx, ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := state{}
	for _, e := range final.Entries {
		want[e.Name] = e.RV
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		fmu.Lock()
		allDone := true
		for _, f := range followers {
			if f.err != nil {
				fmu.Unlock()
				t.Fatalf("follower: %v", f.err)
			}
			if f.lastRV < final.ResourceVersion && !sameState(f.st, want) {
				allDone = false
			}
		}
		fmu.Unlock()
		if allDone {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("followers did not reach the final state within 30s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	fmu.Lock()
	defer fmu.Unlock()
	for i, f := range followers {
		if !sameState(f.st, want) {
			t.Fatalf("follower %d state %v, want %v", i, f.st, want)
		}
	}
}

func sameState(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
