package sealpost

import (
	"context"
	"net/netip"
)

// A Service names where a client reached us, for throttling and logs.
type Service string

// The services a client logs in to.
const (
	ServiceIMAP       Service = "imap"
	ServiceSubmission Service = "submission"
	ServiceWeb        Service = "web"
	ServiceAPI        Service = "api"
	ServiceSieve      Service = "managesieve"
)

// A Client is who is at the other end of a request: the address it
// connects from (the TCP peer, or the one a trusted front door vouches
// for) and the service. Protocol servers attach it to the context of a
// login (WithClient), so that the layers below can queue and throttle
// password checks per source without a parameter on every method.
type Client struct {
	Source  netip.Addr // invalid if unknown
	Service Service
}

type clientKey struct{}

// WithClient returns ctx carrying c.
func WithClient(ctx context.Context, c Client) context.Context {
	return context.WithValue(ctx, clientKey{}, c)
}

// ClientFrom returns the Client ctx carries, or the zero Client.
func ClientFrom(ctx context.Context) Client {
	c, _ := ctx.Value(clientKey{}).(Client)
	return c
}
