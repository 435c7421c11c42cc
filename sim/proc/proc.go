// Package proc starts and stops meshsim's background processes. Every process
// is started in its own session (so it outlives the command that started it
// and a terminal's Ctrl-C does not reach it) and recorded by a pid file under
// the state directory, so `meshsim down` can stop exactly what meshsim started.
package proc

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Spec is one background process.
type Spec struct {
	Name    string   // unique within the state directory, e.g. "istiod-asm-1282-4"
	Path    string   // executable
	Args    []string // arguments after the executable
	Env     []string // added to the current environment
	LogFile string   // stdout and stderr go here
}

// Dir is the folder holding pid files.
type Dir string

func (d Dir) pidFile(name string) string { return filepath.Join(string(d), name+".pid") }

// Start launches spec detached and records its pid. A process of the same
// name that still runs is left alone and reported as already running.
func (d Dir) Start(spec Spec) (pid int, alreadyRunning bool, err error) {
	if pid, ok := d.Running(spec.Name); ok {
		return pid, true, nil
	}
	if err := os.MkdirAll(string(d), 0o755); err != nil {
		return 0, false, err
	}
	logf, err := os.OpenFile(spec.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 0, false, fmt.Errorf("open log for %s: %w", spec.Name, err)
	}
	defer logf.Close()
	cmd := exec.Command(spec.Path, spec.Args...)
	cmd.Env = append(os.Environ(), spec.Env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, false, fmt.Errorf("start %s: %w", spec.Name, err)
	}
	pid = cmd.Process.Pid
	// Reap the child if this process lives on; a detached child whose parent
	// exits is re-parented and reaped by init.
	go func() { _ = cmd.Wait() }()
	if err := os.WriteFile(d.pidFile(spec.Name), []byte(strconv.Itoa(pid)), 0o644); err != nil {
		_ = cmd.Process.Kill()
		return 0, false, err
	}
	return pid, false, nil
}

// Running reports whether the named process is alive.
func (d Dir) Running(name string) (int, bool) {
	b, err := os.ReadFile(d.pidFile(name))
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	return pid, Alive(pid)
}

// Alive reports whether pid names a live process that is not a zombie.
func Alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// The state follows the command name in parentheses: "pid (comm) S ...".
	if i := strings.LastIndexByte(string(stat), ')'); i > 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z'
	}
	return true
}

// Names lists the processes recorded in the directory.
func (d Dir) Names() []string {
	entries, _ := os.ReadDir(string(d))
	var names []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".pid"); ok {
			names = append(names, n)
		}
	}
	return names
}

// Stop ends the named process (SIGTERM, then SIGKILL after grace) and removes
// its pid file. Its whole process group goes, so helpers it spawned go too.
func (d Dir) Stop(name string, grace time.Duration) error {
	pid, alive := d.Running(name)
	if alive {
		_ = syscall.Kill(-pid, syscall.SIGTERM)
		_ = syscall.Kill(pid, syscall.SIGTERM)
		deadline := time.Now().Add(grace)
		for Alive(pid) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if Alive(pid) {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			_ = syscall.Kill(pid, syscall.SIGKILL)
			for i := 0; i < 100 && Alive(pid); i++ {
				time.Sleep(20 * time.Millisecond)
			}
		}
		if Alive(pid) {
			return fmt.Errorf("process %s (pid %d) did not stop", name, pid)
		}
	}
	err := os.Remove(d.pidFile(name))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// FreePort asks the kernel for a free TCP port on 127.0.0.1.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// WaitForPort waits until something accepts connections on addr.
func WaitForPort(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing listens on %s after %s", addr, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Mentioning lists the live processes whose command line contains s (for
// processes started by a tool that keeps no pid files of its own for us).
func Mentioning(s string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(cmdline), s) && Alive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// WaitGone waits for pids to exit, killing those still alive after grace.
func WaitGone(pids []int, grace time.Duration) {
	deadline := time.Now().Add(grace)
	for _, pid := range pids {
		for Alive(pid) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if Alive(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	for _, pid := range pids {
		for i := 0; i < 100 && Alive(pid); i++ {
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// StopAll asks pids to exit (SIGTERM) and kills those still alive after grace.
func StopAll(pids []int, grace time.Duration) {
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGTERM)
	}
	WaitGone(pids, grace)
}

// WaitPortClosed waits until nothing accepts connections on addr.
func WaitPortClosed(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			return nil
		}
		c.Close()
		if time.Now().After(deadline) {
			return fmt.Errorf("%s still accepts connections after %s", addr, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
