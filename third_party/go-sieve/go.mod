module github.com/migadu/go-sieve

// Sealpost patch 60: no replace of go-message with migadu/go-message (a
// fork the module proxy does not serve); it builds and passes its tests
// against github.com/emersion/go-message v0.18.2.

go 1.20

require (
	github.com/davecgh/go-spew v1.1.1
	github.com/emersion/go-message v0.18.2
	rsc.io/binaryregexp v0.2.0
)

require golang.org/x/text v0.14.0 // indirect
