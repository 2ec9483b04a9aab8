package importer

import (
	"strings"

	"github.com/sealpost/sealpost"
)

// Special-use attributes (RFC 6154 2, RFC 8457 3) and the LIST attributes
// of folders that hold no messages (RFC 9051 7.3.1).
const (
	attrAll         = `\All`
	attrArchive     = `\Archive`
	attrDrafts      = `\Drafts`
	attrFlagged     = `\Flagged`
	attrImportant   = `\Important`
	attrJunk        = `\Junk`
	attrSent        = `\Sent`
	attrTrash       = `\Trash`
	attrNoselect    = `\Noselect`
	attrNonExistent = `\NonExistent`
)

// knownNames are the folder names providers give their special folders
// when they announce no attribute (old servers, Exchange and Outlook,
// localized clients' defaults), compared without case.
var knownNames = map[string]sealpost.SpecialUse{
	"sent": sealpost.UseSent, "sent items": sealpost.UseSent, "sent messages": sealpost.UseSent,
	"sent mail": sealpost.UseSent, "[gmail]/sent mail": sealpost.UseSent, "[google mail]/sent mail": sealpost.UseSent,
	"drafts": sealpost.UseDrafts, "draft": sealpost.UseDrafts, "[gmail]/drafts": sealpost.UseDrafts, "[google mail]/drafts": sealpost.UseDrafts,
	"trash": sealpost.UseTrash, "deleted items": sealpost.UseTrash, "deleted messages": sealpost.UseTrash,
	"bin": sealpost.UseTrash, "[gmail]/trash": sealpost.UseTrash, "[gmail]/bin": sealpost.UseTrash, "[google mail]/trash": sealpost.UseTrash,
	"junk": sealpost.UseJunk, "spam": sealpost.UseJunk, "junk e-mail": sealpost.UseJunk, "junk email": sealpost.UseJunk,
	"bulk mail": sealpost.UseJunk, "[gmail]/spam": sealpost.UseJunk, "[google mail]/spam": sealpost.UseJunk,
	"archive": sealpost.UseArchive, "archives": sealpost.UseArchive,
}

// virtualNames are Gmail's views, which hold messages also filed
// elsewhere, when the server does not mark them \All, \Flagged or
// \Important.
var virtualNames = map[string]bool{
	"[gmail]/all mail": true, "[google mail]/all mail": true,
	"[gmail]/starred": true, "[google mail]/starred": true,
	"[gmail]/important": true, "[google mail]/important": true,
}

// Map says where a source folder goes: INBOX to INBOX, a special-use
// folder (by attribute, else by a known name) to ours with that use
// (created with that name if the account has none), any other to the
// same name with "/" as the hierarchy delimiter. skip, when not empty, is
// why the folder is not copied: it holds no messages (\Noselect), or it
// is a view of messages held in other folders (Gmail's All Mail, Starred
// and Important: \All, \Flagged, \Important), copied only with allMail.
func Map(f Folder, allMail bool) (d Dest, skip string) {
	has := func(a string) bool {
		for _, x := range f.Attrs {
			if strings.EqualFold(x, a) {
				return true
			}
		}
		return false
	}
	if has(attrNoselect) || has(attrNonExistent) {
		return Dest{}, "not selectable"
	}
	lower := strings.ToLower(f.Name)
	if f.Delim != "" && f.Delim != "/" {
		lower = strings.ReplaceAll(lower, f.Delim, "/")
	}
	if !allMail && (has(attrAll) || has(attrFlagged) || has(attrImportant) || virtualNames[lower]) {
		return Dest{}, "a view of mail held in other folders (All Mail, Starred, Important)"
	}
	if strings.EqualFold(f.Name, sealpost.Inbox) {
		return Dest{Mailbox: sealpost.Inbox, Use: sealpost.UseInbox}, ""
	}
	use := sealpost.UseNone
	for _, a := range []struct {
		attr string
		use  sealpost.SpecialUse
	}{{attrSent, sealpost.UseSent}, {attrDrafts, sealpost.UseDrafts}, {attrTrash, sealpost.UseTrash},
		{attrJunk, sealpost.UseJunk}, {attrArchive, sealpost.UseArchive}} {
		if has(a.attr) {
			use = a.use
		}
	}
	if use == sealpost.UseNone {
		use = knownNames[lower]
	}
	name := ourName(f)
	if use != sealpost.UseNone {
		// "[Gmail]/Sent Mail" becomes our Sent when the account has none.
		name = strings.TrimPrefix(string(use), `\`)
	}
	if sealpost.CheckMailboxName(name) != nil {
		return Dest{}, "a folder name Sealpost cannot store"
	}
	return Dest{Mailbox: name, Use: use}, ""
}

// ourName turns the source's hierarchy delimiter into ours, "/". A "/"
// inside a level of a source that uses another delimiter becomes "-".
func ourName(f Folder) string {
	if f.Delim == "" || f.Delim == "/" {
		return f.Name
	}
	levels := strings.Split(f.Name, f.Delim)
	for i, l := range levels {
		levels[i] = strings.ReplaceAll(l, "/", "-")
	}
	return strings.Join(levels, "/")
}
