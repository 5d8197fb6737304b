package octavia

// CounterValue is counterValue, for the tests of package octavia_test.
var CounterValue = counterValue

// LastRead says how much the last Snapshot of the load balancer id read: "reuse",
// "delta" or "full"; "" if it was never read.
func (c *Gophercloud) LastRead(id string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	k, ok := c.last[id]
	if !ok {
		return ""
	}
	return k.String()
}
