package mimeidb

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. The messages are those Redis sends (for the ones Redis
// has), so the CLI can print err.Error() as redis-cli would. Errors returned
// by this package may wrap them with more detail; test with errors.Is.
var (
	ErrWrongType       = errors.New("WRONGTYPE Operation against a key holding the wrong kind of value")
	ErrNotInteger      = errors.New("ERR value is not an integer or out of range")
	ErrOverflow        = errors.New("ERR increment or decrement would overflow")
	ErrNotFloat        = errors.New("ERR value is not a valid float")
	ErrNaN             = errors.New("ERR resulting score is not a number (NaN)")
	ErrNoSuchKey       = errors.New("ERR no such key")
	ErrIndexOutOfRange = errors.New("ERR index out of range")
	ErrSyntax          = errors.New("ERR syntax error")
	ErrWrongArgs       = errors.New("ERR wrong number of arguments")
	ErrUnknownCommand  = errors.New("ERR unknown command")
	ErrInvalidCursor   = errors.New("ERR invalid cursor")
	// ErrTooLarge: a key, field, member or value exceeds the size limits
	// (MaxKeyLen, MaxValueLen).
	ErrTooLarge = errors.New("ERR string exceeds maximum allowed size")

	// ErrReadOnly: a write was attempted on a View (or a finished Tx).
	ErrReadOnly = errors.New("READONLY You can't write against a read only database")
	// ErrConflict: an optimistic transaction read a key that another
	// commit changed before it could commit; retry it (see UpdateRetry).
	ErrConflict = errors.New("mimeidb: transaction conflict")
	// ErrTxDone: a Tx was used after its Update function returned.
	ErrTxDone = errors.New("mimeidb: transaction already finished")
	// ErrUnsupportedVersion: the database under the prefix has a format
	// version this build does not understand. The wrapping error names it.
	ErrUnsupportedVersion = errors.New("mimeidb: unsupported database format version")
	// ErrBadPrefix: Open was given an unusable key prefix.
	ErrBadPrefix = errors.New("mimeidb: bad key prefix")
	// ErrCorrupt: stored data does not decode.
	ErrCorrupt = errors.New("mimeidb: corrupt database record")
)

// redisError is an error with its own Redis message that still matches a
// sentinel under errors.Is.
type redisError struct {
	msg  string
	base error
}

func (e *redisError) Error() string        { return e.msg }
func (e *redisError) Is(target error) bool { return target == e.base }

func wrongArgs(cmd string) error {
	return &redisError{fmt.Sprintf("ERR wrong number of arguments for '%s' command", strings.ToLower(cmd)), ErrWrongArgs}
}

func unknownCommand(cmd string) error {
	return &redisError{fmt.Sprintf("ERR unknown command '%s'", cmd), ErrUnknownCommand}
}

var (
	errHashNotInteger = &redisError{"ERR hash value is not an integer", ErrNotInteger}
	errMinMaxNotFloat = &redisError{"ERR min or max is not a float", ErrNotFloat}
	errNotPositive    = &redisError{"ERR value is out of range, must be positive", ErrNotInteger}
	errNXXX           = &redisError{"ERR XX and NX options at the same time are not compatible", ErrSyntax}
)

func tooLarge(what string, n, max int) error {
	return fmt.Errorf("%w (%s of %d bytes, max %d)", ErrTooLarge, what, n, max)
}

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}
