//go:build !linux

package wsconn

// rawReader is Linux only: elsewhere connections read through net.Conn and
// keep their read buffer.
type rawReader struct{}

func (*rawReader) init(*Conn) bool { return false }

func (*rawReader) read() (int, error) { return 0, nil }

func (c *Conn) WriteNow([]byte) (int, error) { return 0, nil }

func (c *Conn) closeSocket() { c.nc.Close() }
