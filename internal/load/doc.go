// Package load is `miniback load`: a load generator that drives virtual
// users through the real flows of a miniback deployment in sandbox mode
// (sandbox login codes, login, GET /me, refresh, phone numbers, signed and
// encrypted pushes) and reports what it measured.
//
// Two models: closed (Config.Rate zero: each of Config.Users runs its next
// step as soon as the last one answered) and open (Config.Rate arrivals per
// second whatever the answers, with latency measured from each arrival's
// scheduled time, so a slow server cannot hide its queueing).
//
// Latencies go into HdrHistograms (3 significant digits, 1 µs to 1 min),
// never into arrays of samples, so memory does not grow with the run.
//
// A Runner is used once; its methods are not safe for concurrent use, but
// the virtual users it starts run concurrently.
package load
