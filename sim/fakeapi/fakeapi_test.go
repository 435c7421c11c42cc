package fakeapi

import (
	"encoding/json"
	"testing"
	"time"
)

func TestDurationReadsTextAndNanoseconds(t *testing.T) {
	for in, want := range map[string]time.Duration{`"150ms"`: 150 * time.Millisecond, `"2s"`: 2 * time.Second, `3000000`: 3 * time.Millisecond} {
		var d Duration
		if err := json.Unmarshal([]byte(in), &d); err != nil || time.Duration(d) != want {
			t.Errorf("Unmarshal(%s) = %v, %v; want %v", in, time.Duration(d), err, want)
		}
	}
	var d Duration
	if err := json.Unmarshal([]byte(`"soon"`), &d); err == nil {
		t.Error(`Unmarshal("soon") succeeded`)
	}
	if b, _ := json.Marshal(Duration(1500 * time.Millisecond)); string(b) != `"1.5s"` {
		t.Errorf("Marshal(1.5s) = %s", b)
	}
}

func TestLogCountsEverythingAndKeepsTheLatest(t *testing.T) {
	l := &Log{Max: 2}
	l.Add(Record{Method: "a.insert", Status: 200, Mutation: true})
	l.Add(Record{Method: "a.get", Status: 404})
	l.Add(Record{Method: "a.get", Status: 200})
	got := l.Stats()
	if got.Total != 3 || got.Mutations != 1 || got.Errors != 1 || got.ByMethod["a.get"] != 2 {
		t.Errorf("stats = %+v", got)
	}
	if len(got.Requests) != 2 || got.Requests[0].Status != 404 {
		t.Errorf("kept %+v, want the last two requests", got.Requests)
	}
	got.ByMethod["a.get"] = 99 // a copy: the log is not changed
	if l.Stats().ByMethod["a.get"] != 2 {
		t.Error("Stats shares its map with the log")
	}
	l.Reset()
	if s := l.Stats(); s.Total != 0 || len(s.Requests) != 0 || s.ByMethod == nil {
		t.Errorf("after Reset: %+v", s)
	}
}
