package imapserver

import (
	"strings"
	"testing"
)

// TestListExtendedSubscriptions: LIST-EXTENDED's SUBSCRIBED selection
// returns a subscribed name whose mailbox was deleted, \NonExistent (RFC
// 5258 3; RFC 3501 6.3.6: the subscription is not removed); RECURSIVEMATCH
// returns a name whose subscribed descendant no pattern matches, with
// CHILDINFO, and no name whose subscribed descendants are all matched
// (RFC 5258 3, 4); LSUB returns a non-subscribed parent of a subscribed
// name that "%" stops at, with \Noselect (RFC 3501 6.3.9).
func TestListExtendedSubscriptions(t *testing.T) {
	e := newEnv(t)
	r := e.rawTLS()
	r.login(alice)
	for _, n := range []string{"test1", "test2/test1", "test3", "test4/test5", "test4/test52", "test6", "test7/test7", "test8/test8", "test8/test9"} {
		r.ok("CREATE box/%s", n)
	}
	for _, n := range []string{"test1", "test2/test1", "test3", "test6", "test7/test7", "test8/test8", "test8/test9"} {
		r.ok("SUBSCRIBE box/%s", n)
	}
	r.ok("DELETE box/test6")

	wantLines(t, "LIST (SUBSCRIBED)", r.ok(`LIST (SUBSCRIBED) "" box/*`),
		`* LIST (\HasNoChildren \Subscribed) "/" "box/test1"`+"\r\n",
		`* LIST (\HasNoChildren \Subscribed) "/" "box/test2/test1"`+"\r\n",
		`* LIST (\HasNoChildren \Subscribed) "/" "box/test3"`+"\r\n",
		`* LIST (\NonExistent \HasNoChildren \Subscribed) "/" "box/test6"`+"\r\n",
		`* LIST (\HasNoChildren \Subscribed) "/" "box/test7/test7"`+"\r\n",
		`* LIST (\HasNoChildren \Subscribed) "/" "box/test8/test8"`+"\r\n",
		`* LIST (\HasNoChildren \Subscribed) "/" "box/test8/test9"`+"\r\n")
	wantLines(t, "plain LIST", r.ok(`LIST "" (box/test6 box/test7)`), `* LIST (\HasChildren) "/" "box/test7"`+"\r\n")
	wantLines(t, "RECURSIVEMATCH box/test2%", r.ok(`LIST (SUBSCRIBED RECURSIVEMATCH) "" box/test2%% RETURN (CHILDREN)`),
		`* LIST (\HasChildren) "/" "box/test2" (CHILDINFO ("SUBSCRIBED"))`+"\r\n")
	wantLines(t, "RECURSIVEMATCH *test7", r.ok(`LIST (SUBSCRIBED RECURSIVEMATCH) "" *test7`),
		`* LIST (\HasNoChildren \Subscribed) "/" "box/test7/test7"`+"\r\n")
	wantLines(t, "RECURSIVEMATCH *test8", r.ok(`LIST (SUBSCRIBED RECURSIVEMATCH) "" *test8`),
		`* LIST (\HasChildren) "/" "box/test8" (CHILDINFO ("SUBSCRIBED"))`+"\r\n",
		`* LIST (\HasNoChildren \Subscribed) "/" "box/test8/test8"`+"\r\n")
	wantLines(t, "RECURSIVEMATCH two patterns", r.ok(`LIST (SUBSCRIBED RECURSIVEMATCH) "" (box/test2 box/test2/test1)`),
		`* LIST (\HasNoChildren \Subscribed) "/" "box/test2/test1"`+"\r\n")
	if _, tg := r.cmd(`LIST (RECURSIVEMATCH) "" %%`); !strings.Contains(tg, " BAD ") {
		t.Errorf("RECURSIVEMATCH alone: %q", tg)
	}

	wantLines(t, "LSUB box/%", r.ok(`LSUB "" box/%%`),
		`* LSUB (\HasNoChildren) "/" "box/test1"`+"\r\n",
		`* LSUB (\Noselect \HasChildren) "/" "box/test2"`+"\r\n",
		`* LSUB (\HasNoChildren) "/" "box/test3"`+"\r\n",
		`* LSUB (\HasNoChildren) "/" "box/test6"`+"\r\n",
		`* LSUB (\Noselect \HasChildren) "/" "box/test7"`+"\r\n",
		`* LSUB (\Noselect \HasChildren) "/" "box/test8"`+"\r\n")
	wantLines(t, "LSUB *test1", r.ok(`LSUB "" *test1`),
		`* LSUB (\HasNoChildren) "/" "box/test1"`+"\r\n",
		`* LSUB (\HasNoChildren) "/" "box/test2/test1"`+"\r\n")

	// The orphan goes when unsubscribed; a name recreated after its
	// subscribed mailbox was deleted is subscribed again.
	r.ok("UNSUBSCRIBE box/test6")
	r.ok("DELETE box/test3")
	r.ok("CREATE box/test3")
	wantLines(t, "after UNSUBSCRIBE and re-CREATE", r.ok(`LIST (SUBSCRIBED) "" box/test%%`),
		`* LIST (\HasNoChildren \Subscribed) "/" "box/test1"`+"\r\n",
		`* LIST (\HasNoChildren \Subscribed) "/" "box/test3"`+"\r\n")
}
