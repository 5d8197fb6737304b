// Package proc starts the test bed's programs (kube-apiservers, etcds, the manager,
// Octavia, Prometheus) so that none outlives the test or sandbox that started it, and
// stops, pauses and serialises them. Linux does this with process groups, Pdeathsig
// and flock(2); elsewhere the functions do what they can.
package proc
