package octavia

// CounterValue is counterValue, for the tests of package octavia_test.
var CounterValue = counterValue
