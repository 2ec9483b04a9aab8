package server

import (
	"context"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
)

// QuotaReport is an account's quota as `sealpost account quota` shows it.
type QuotaReport struct {
	Address   string         `json:"address"`
	Own       sealpost.Quota `json:"own"`       // the override (0: the default, -1: none)
	Effective sealpost.Quota `json:"effective"` // the limits that apply (0: none)
	Usage     sealpost.Usage `json:"usage"`
}

// AccountQuota returns an account's quota and usage at its home region,
// after replacing its override with *set when set is not nil.
func (s *Server) AccountQuota(ctx context.Context, addr string, set *sealpost.Quota) (QuotaReport, error) {
	const op = "server.AccountQuota"
	svc, _, err := s.Router.Postbox(ctx, addr)
	if err != nil {
		return QuotaReport{}, errors.E(op, err)
	}
	own, eff, u, err := svc.AccountQuota(ctx, addr, set)
	if err != nil {
		return QuotaReport{}, errors.E(op, err)
	}
	return QuotaReport{Address: sealpost.NormalizeAddress(addr), Own: own, Effective: eff, Usage: u}, nil
}

// AccountQuota is Server.AccountQuota in the running server.
func (c *Ctl) AccountQuota(addr string, set *sealpost.Quota) (QuotaReport, error) {
	rep, err := c.do(ctlRequest{Op: "account.quota", Address: addr, Quota: set})
	if rep.Quota == nil {
		return QuotaReport{}, err
	}
	return *rep.Quota, err
}
