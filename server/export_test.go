package server

// Loopback is loopback, for tests.
var Loopback = loopback
