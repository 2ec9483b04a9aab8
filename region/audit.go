package region

import (
	"context"
	"sort"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
)

// Holding is one account's data as found in one region.
type Holding struct {
	Address string
	Home    sealpost.RegionID // "" if the directory does not know it
	Blobs   int               // sealed blobs its messages reference
	Moving  bool              // part of an unfinished move
}

// RegionAudit is what the audit found in one region's storage.
type RegionAudit struct {
	Region   sealpost.RegionID
	Holdings []Holding
	Blobs    int // blobs in the region's blob store
	Queue    int // blobs of the outbound queue
}

// Finding is one thing out of place, naming the item.
type Finding struct {
	Region sealpost.RegionID
	Item   string
	Reason string
}

// AuditReport is the result of Audit: per region, whose data it holds; and
// every finding. A report with findings means residency is broken (or data
// is damaged) and `sealpost residency audit` exits non-zero.
type AuditReport struct {
	Regions  []RegionAudit
	Findings []Finding
}

// Audit scans every region's storage, unguarded (ends' stores must be the
// raw stores, so that nothing is hidden), against the directory. It finds:
// an account's data (account row with its key material, mailboxes,
// messages) in a region that is not its home, except either half of an
// unfinished move; rows that belong to no account; blobs no account in
// their region references (sealed content whose owner cannot be told,
// outside any known home), except during a move touching that region;
// referenced blobs that are missing; and directory entries whose home holds
// no account.
func Audit(ctx context.Context, dir sealpost.Directory, ends []End) (AuditReport, error) {
	return AuditMetered(ctx, dir, ends, nil)
}

// AuditMetered is Audit telling meter (if not nil) of each blob it lists.
func AuditMetered(ctx context.Context, dir sealpost.Directory, ends []End, meter Meter) (AuditReport, error) {
	const op = "region.Audit"
	var rep AuditReport
	homes, err := dir.Homes(ctx)
	if err != nil {
		return rep, errors.E(op, err)
	}
	home := make(map[string]sealpost.RegionID, len(homes))
	for _, h := range homes {
		home[h.Address] = h.Region
	}
	moves, err := dir.Moves(ctx)
	if err != nil {
		return rep, errors.E(op, err)
	}
	moving := make(map[string]sealpost.Move, len(moves))
	movesTouch := make(map[sealpost.RegionID]bool)
	for _, m := range moves {
		moving[m.Address] = m
		movesTouch[m.From], movesTouch[m.To] = true, true
	}
	held := make(map[string]map[sealpost.RegionID]bool) // address → regions holding it

	for _, end := range ends {
		r := end.Region
		ra := RegionAudit{Region: r}
		find := func(item, reason string) {
			rep.Findings = append(rep.Findings, Finding{Region: r, Item: item, Reason: reason})
		}
		inv, err := end.Store.Inventory(ctx)
		if err != nil {
			return rep, errors.E(op, errors.Errorf("region %s: %w", r, err))
		}
		perAcct := map[string]int{}
		for ref, owner := range inv.Blobs {
			if owner == "" {
				ra.Queue++
			}
			perAcct[owner]++
			_ = ref
		}
		for _, a := range inv.Accounts {
			h := home[a.Address]
			m, isMoving := moving[a.Address]
			inMove := isMoving && (m.From == r || m.To == r)
			ra.Holdings = append(ra.Holdings, Holding{Address: a.Address, Home: h, Blobs: perAcct[a.Address], Moving: inMove})
			if held[a.Address] == nil {
				held[a.Address] = map[sealpost.RegionID]bool{}
			}
			held[a.Address][r] = true
			switch {
			case h == "":
				find("account "+a.Address, "its data (account, keys, mail) is here but the directory has no home for it")
			case h != r && !inMove:
				find("account "+a.Address, "its data (account, keys, mail) is here but its home is region "+string(h))
			}
		}
		for _, o := range inv.Orphans {
			find(o, "a row that belongs to no account in this region")
		}
		stored := make(map[sealpost.BlobRef]bool)
		err = end.Blobs.List(ctx, func(ref sealpost.BlobRef) error {
			stored[ref] = true
			if meter != nil {
				meter.Add(1, 0)
			}
			return nil
		})
		if err != nil {
			return rep, errors.E(op, errors.Errorf("region %s: listing blobs: %w", r, err))
		}
		ra.Blobs = len(stored)
		var stray []string
		for ref := range stored {
			if _, ok := inv.Blobs[ref]; !ok {
				stray = append(stray, string(ref))
			}
		}
		sort.Strings(stray)
		if !movesTouch[r] {
			for _, ref := range stray {
				find("blob "+ref, "sealed content that no account in this region references")
			}
		}
		var missing []string
		for ref, owner := range inv.Blobs {
			if !stored[ref] {
				who := owner
				if who == "" {
					who = "the outbound queue"
				}
				missing = append(missing, string(ref)+" of "+who)
			}
		}
		sort.Strings(missing)
		for _, m := range missing {
			find("blob "+m, "referenced but missing from the blob store")
		}
		sort.Slice(ra.Holdings, func(i, j int) bool { return ra.Holdings[i].Address < ra.Holdings[j].Address })
		rep.Regions = append(rep.Regions, ra)
	}
	audited := make(map[sealpost.RegionID]bool, len(ends))
	for _, e := range ends {
		audited[e.Region] = true
	}
	for _, h := range homes {
		if _, ok := moving[h.Address]; ok || !audited[h.Region] {
			continue
		}
		if !held[h.Address][h.Region] {
			rep.Findings = append(rep.Findings, Finding{Region: h.Region, Item: "account " + h.Address,
				Reason: "homed here by the directory, but this region holds no account for it"})
		}
	}
	return rep, nil
}
