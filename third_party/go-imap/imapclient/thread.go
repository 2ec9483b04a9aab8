package imapclient

import (
	"fmt"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/internal/imapwire"
)

// ThreadOptions contains options for the THREAD command.
type ThreadOptions struct {
	Algorithm      imap.ThreadAlgorithm
	SearchCriteria *imap.SearchCriteria
}

func (c *Client) thread(numKind imapwire.NumKind, options *ThreadOptions) *ThreadCommand {
	cmd := &ThreadCommand{}
	enc := c.beginCommand(uidCmdName("THREAD", numKind), cmd)
	enc.SP().Atom(string(options.Algorithm)).SP().Atom("UTF-8").SP()
	writeSearchKey(enc.Encoder, options.SearchCriteria)
	enc.end()
	return cmd
}

// Thread sends a THREAD command.
//
// This command requires support for the THREAD extension.
func (c *Client) Thread(options *ThreadOptions) *ThreadCommand {
	return c.thread(imapwire.NumKindSeq, options)
}

// UIDThread sends a UID THREAD command.
//
// See Thread.
func (c *Client) UIDThread(options *ThreadOptions) *ThreadCommand {
	return c.thread(imapwire.NumKindUID, options)
}

// handleThread reads "THREAD" [SP 1*thread-list] (RFC 5256 5): the lists
// follow each other without spaces (Sealpost patch 32; upstream expected a
// space before each, and so read only the first thread).
func (c *Client) handleThread() error {
	cmd := findPendingCmdByType[*ThreadCommand](c)
	if !c.dec.SP() {
		return nil
	}
	for {
		data, isList, err := readThread(c.dec)
		if err != nil {
			return fmt.Errorf("in thread-list: %v", err)
		}
		if !isList {
			return nil
		}
		if cmd != nil {
			cmd.data = append(cmd.data, *data)
		}
		c.dec.SP() // tolerate a server that separates them
	}
}

// ThreadCommand is a THREAD command.
type ThreadCommand struct {
	commandBase
	data []ThreadData
}

func (cmd *ThreadCommand) Wait() ([]ThreadData, error) {
	err := cmd.wait()
	return cmd.data, err
}

// ThreadData is imap's (Sealpost patch 31).
type ThreadData = imap.ThreadData

// readThread reads a thread-list if one follows: "(" thread-members /
// thread-nested ")", where thread-nested is 2*thread-list with no spaces
// between (Sealpost patch 32: upstream read only the first nested list).
func readThread(dec *imapwire.Decoder) (*ThreadData, bool, error) {
	var data ThreadData
	isList, err := dec.List(func() error {
		var num uint32
		if len(data.SubThreads) == 0 && dec.Number(&num) {
			data.Chain = append(data.Chain, num)
			return nil
		}
		for {
			sub, isList, err := readThread(dec)
			if err != nil {
				return err
			}
			if !isList {
				if len(data.SubThreads) == 0 {
					return dec.Err()
				}
				return nil
			}
			data.SubThreads = append(data.SubThreads, *sub)
		}
	})
	return &data, isList, err
}
