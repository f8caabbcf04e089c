//go:build !linux

package netns

import (
	"errors"
	"syscall"
)

func platformOK() error { return errors.New("netns: network namespaces need Linux") }

func sysProcAttr() *syscall.SysProcAttr { return nil }

func killGroup(pid int) {}
