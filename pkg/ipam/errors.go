package ipam

import (
	"errors"
	"fmt"
	"net/netip"
)

// Sentinel errors; every error returned by this package wraps one of them so
// callers can branch with errors.Is while the message carries the details.
var (
	ErrInvalidConfig      = errors.New("invalid subnet configuration")
	ErrInvalidRequest     = errors.New("invalid request")
	ErrUnknownSubnet      = errors.New("unknown subnet")
	ErrOverlap            = errors.New("subnets overlap")
	ErrAllocationsOutside = errors.New("allocations outside the new subnet configuration")
	ErrSubnetInUse        = errors.New("subnet in use")
	ErrOutOfRange         = errors.New("address out of range")
	ErrReserved           = errors.New("address reserved")
	ErrAddressTaken       = errors.New("address taken")
	ErrMACTaken           = errors.New("MAC address taken")
	ErrSubnetFull         = errors.New("subnet full")
	ErrPoolExhausted      = errors.New("address pool exhausted")
	ErrFamilyMismatch     = errors.New("address family mismatch")
)

// TakenError reports an address already held by another owner, so a caller
// can tell who is in the way without parsing the message.
type TakenError struct {
	IP     netip.Addr
	Holder Owner
}

func (e *TakenError) Error() string {
	return fmt.Sprintf("%v: %s is held by %s", ErrAddressTaken, e.IP, e.Holder)
}

// Is makes errors.Is(err, ErrAddressTaken) true for a *TakenError.
func (e *TakenError) Is(target error) bool { return target == ErrAddressTaken }
