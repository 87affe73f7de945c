package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// click clicks an element found by a JavaScript expression, visible or not
// (message actions show only on hover).
func (u *user) click(what, js string) {
	u.t.Helper()
	u.until(what+" present", "!!("+js+")")
	u.eval("("+js+").click(), true", nil)
}

// createRoom makes a public room, which opens.
func (u *user) createRoom(name string) {
	u.t.Helper()
	u.run("create room "+name,
		chromedp.Click("#new-room-btn", chromedp.ByID),
		chromedp.WaitVisible("#dlg-room-name", chromedp.ByID),
		chromedp.SendKeys("#dlg-room-name", name, chromedp.ByID),
		chromedp.Click("#dialog-ok", chromedp.ByID))
	u.until(name+" open", fmt.Sprintf(`document.querySelector('#room-title').textContent === %q && !document.querySelector('#dialog').open`, name))
}

// action clicks one of the actions of the message showing text.
func (u *user) action(text, label string) {
	u.t.Helper()
	u.click(label+" "+text, fmt.Sprintf(`%s?.querySelector('.actions button[aria-label=%q]')`, msgJS(text), label))
}

// TestWebClientV11 drives the contract's v1.1 features through two
// browsers on two servers: replies, reactions, edits, deletions, mentions,
// search, member removal and blocks, plus the first-use polish.
func TestWebClientV11(t *testing.T) {
	c := startCluster(t)
	alice := newUser(t, "alice")
	bob := newUser(t, "bob")

	// Sign-up states its rules before anything is submitted.
	alice.run("open", chromedp.Navigate(c.web.URL+"/?server=1"), chromedp.WaitVisible("#auth-username", chromedp.ByID))
	alice.until("rules shown", `document.querySelector('#username-rules').offsetParent !== null &&
		document.querySelector('#username-rules')?.textContent.includes('3–32') &&
		document.querySelector('#password-rules')?.textContent.includes('8')`)
	alice.signup(c.web.URL, 1)
	bob.signup(c.web.URL, 2)

	// The empty main pane says what to do, and the sidebar's buttons fit
	// on one line at 1280 px.
	alice.run("1280 wide", chromedp.EmulateViewport(1280, 800))
	alice.until("empty pane", `document.querySelector('#empty').offsetParent !== null &&
		document.querySelector('#empty')?.textContent.includes('Create a room')`)
	alice.until("one line of buttons", `new Set([...document.querySelectorAll('.side-actions button')].map(b => b.offsetTop)).size === 1`)
	alice.shot("v11-empty")

	alice.createRoom("v11")
	bob.run("browse", chromedp.Click("#browse-btn", chromedp.ByID))
	bob.until("v11 listed", `!!document.querySelector('button[aria-label="Join v11"]')`)
	bob.run("join", chromedp.Click(`button[aria-label="Join v11"]`, chromedp.ByQuery))
	bob.until("v11 open", `document.querySelector('#room-title')?.textContent === 'v11' && !document.querySelector('#dialog').open`)
	alice.say("first message")
	bob.sees("first message")
	bob.until("a day separator", `[...document.querySelectorAll('#messages .day')].some(d => d.textContent === 'Today')`)

	// Bob replies; both see the quote, and clicking it shows the original.
	bob.action("first message", "Reply")
	bob.until("reply bar", `!document.querySelector('#reply-bar').hidden && document.querySelector('#reply-text')?.textContent.includes('first message')`)
	bob.say("a reply")
	alice.sees("a reply")
	alice.until("quote", msgJS("a reply")+`?.querySelector('.quote')?.textContent.includes('alice: first message')`)
	alice.click("quote", msgJS("a reply")+`?.querySelector('.quote')`)
	alice.until("original flashed", msgJS("first message")+`?.classList.contains('flash')`)

	// Reactions: Bob picks 👍, Alice adds hers with the chip, then takes it back.
	bob.action("first message", "React")
	bob.click("picker 👍", `document.querySelector('#emoji-picker button[aria-label="React 👍"]')`)
	alice.until("bob's reaction", msgJS("first message")+`?.querySelector('.chip')?.textContent === '👍1'`)
	alice.click("chip", msgJS("first message")+`?.querySelector('.chip')`)
	bob.until("two reactions", msgJS("first message")+`?.querySelector('.chip')?.textContent === '👍2'`)
	alice.until("mine highlighted", msgJS("first message")+`?.querySelector('.chip.mine[aria-pressed="true"]')`)
	bob.action("first message", "React")
	bob.run("free-text reaction", chromedp.SendKeys(".emoji-input", "🦀"+kb.Enter, chromedp.ByQuery))
	alice.until("crab", msgJS("first message")+`?.querySelectorAll('.chip').length === 2`)
	alice.click("chip again", msgJS("first message")+`?.querySelector('.chip')`)
	bob.until("back to one", msgJS("first message")+`?.querySelector('.chip')?.textContent === '👍1'`)

	// Alice edits her message; Bob sees "(edited)". Bob cannot edit it.
	bob.until("no edit for bob", `!!`+msgJS("first message")+` && !`+msgJS("first message")+`.querySelector('.actions button[aria-label="Edit"]')`)
	alice.action("first message", "Edit")
	alice.until("edit dialog", `document.querySelector('#dialog').open && document.querySelector('#dlg-edit').value === 'first message'`)
	alice.eval(`document.querySelector('#dlg-edit').value = 'first message, edited', true`, nil)
	alice.run("save", chromedp.Click("#dialog-ok", chromedp.ByID))
	bob.sees("first message, edited")
	bob.until("edited mark", msgJS("first message, edited")+`?.querySelector('.edited')?.textContent.includes('edited')`)
	bob.shot("v11-reactions")
	// The actions a long press shows, and the picker, for the screenshots.
	bob.action("first message, edited", "React")
	bob.eval(msgJS("a reply")+`.classList.add('show-actions'), true`, nil)
	bob.until("picker open", `!!document.querySelector('#emoji-picker')`)
	bob.shot("v11-actions-picker")
	bob.run("close picker", chromedp.SendKeys(".emoji-input", kb.Escape, chromedp.ByQuery))

	// The owner deletes Bob's reply.
	alice.action("a reply", "Delete")
	alice.until("confirm", `document.querySelector('#dialog').open`)
	alice.run("confirm delete", chromedp.Click("#dialog-ok", chromedp.ByID))
	bob.until("deleted", `[...document.querySelectorAll('#messages .msg.deleted')].some(p => p.textContent.includes('message deleted'))`)

	// Mentions: Alice looks at another room; Bob picks her from "@".
	alice.createRoom("quiet")
	bob.run("type @al", chromedp.SendKeys("#composer-input", "look @al", chromedp.ByID))
	bob.until("mention list", `!document.querySelector('#mention-list').hidden && document.querySelector('#mention-list li')?.textContent === 'alice'`)
	// Enter picks (a synthetic keydown: chromedp's Enter also types a
	// character event, which a real keyboard does not after preventDefault).
	bob.eval(`document.querySelector('#composer-input').dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', bubbles: true, cancelable: true})), true`, nil)
	bob.until("completed", `document.querySelector('#composer-input').value.trimStart() === 'look @alice '`)
	bob.run("send mention", chromedp.SendKeys("#composer-input", "here"+kb.Enter, chromedp.ByID))
	bob.sees("look @alice here")
	alice.until("mention badge", `[...document.querySelectorAll('#room-list li')].some(li => li.textContent.includes('v11') && li.querySelector('.badge.mention')?.textContent === '@1')`)
	alice.shot("v11-mention-badge")
	alice.openRoom("v11")
	alice.until("highlighted", msgJS("look @alice here")+`?.classList.contains('mention')`)
	alice.until("badge cleared", `![...document.querySelectorAll('#room-list li')].some(li => li.querySelector('.badge.mention'))`)

	// Search over all rooms opens the room at the result (once the
	// persister has stored the edit: search reads PostgreSQL).
	var token string
	alice.eval(`JSON.parse(localStorage.getItem('rookery.session')).token`, &token)
	c.waitSearch(t, token, "edited")
	alice.openRoom("quiet")
	alice.run("search", chromedp.SendKeys("#search-input", "edited"+kb.Enter, chromedp.ByID))
	alice.until("result", `[...document.querySelectorAll('#dialog .result')].some(r => r.textContent.includes('v11') && r.textContent.includes('first message, edited'))`)
	alice.shot("v11-search")
	alice.click("open result", `[...document.querySelectorAll('#dialog .result')].find(r => r.textContent.includes('first message, edited'))`)
	alice.until("opened at it", `document.querySelector('#room-title')?.textContent === 'v11' && `+msgJS("first message, edited")+`?.classList.contains('flash')`)

	// The owner's member list removes Bob, who is cut off at once.
	alice.run("members", chromedp.Click("#members-btn", chromedp.ByID))
	alice.until("bob listed", `!!document.querySelector('#dialog button[aria-label="Remove bob"]') && document.querySelector('#dialog')?.textContent.includes('alice (owner)')`)
	alice.shot("v11-members")
	alice.run("remove bob", chromedp.Click(`#dialog button[aria-label="Remove bob"]`, chromedp.ByQuery))
	alice.until("bob gone", `!document.querySelector('#dialog button[aria-label="Remove bob"]')`)
	alice.run("close", chromedp.Click("#dialog-cancel", chromedp.ByID))
	bob.until("v11 gone", `![...document.querySelectorAll('#room-list li')].some(li => li.textContent.includes('v11')) && document.querySelector('#room-title')?.textContent === 'No room open'`)

	// A direct message shows presence with dots; Alice blocks Bob.
	bob.run("new dm", chromedp.Click("#new-dm-btn", chromedp.ByID))
	bob.until("alice listed", `!!document.querySelector('button[aria-label="Message alice"]')`)
	bob.run("message alice", chromedp.Click(`button[aria-label="Message alice"]`, chromedp.ByQuery))
	bob.until("dm open", `document.querySelector('#room-title')?.textContent === 'alice' && !document.querySelector('#dialog').open`)
	bob.until("presence dot", `!!document.querySelector('#room-members .dot.on') && !document.querySelector('#room-members')?.textContent.includes('●')`)
	bob.say("hi alice")
	alice.openRoom("bob")
	alice.sees("hi alice")
	alice.run("block", chromedp.Click("#block-btn", chromedp.ByID))
	alice.until("confirm block", `document.querySelector('#dialog').open`)
	alice.run("confirm block", chromedp.Click("#dialog-ok", chromedp.ByID))
	alice.until("unblock offered", `document.querySelector('#block-btn')?.textContent === 'Unblock'`)
	var failed string
	for i := 0; i < 20 && failed == ""; i++ { // other servers hear of the block through Redis
		text := fmt.Sprintf("still there? %d", i)
		bob.run("send "+text, chromedp.SendKeys("#composer-input", text+kb.Enter, chromedp.ByID))
		bob.until("answer to "+text, fmt.Sprintf(`!![...document.querySelectorAll('#messages .msg')].find(p => p.querySelector('.body')?.textContent === %q && (p.dataset.seq || p.classList.contains('failed')))`, text))
		bob.eval(fmt.Sprintf(`[...document.querySelectorAll('#messages .msg.failed')].filter(p => p.querySelector('.body')?.textContent === %q).map(p => p.textContent).join('')`, text), &failed)
	}
	if !strings.Contains(failed, "Not sent") {
		t.Fatalf("bob's messages still go through after the block")
	}
	bob.shot("v11-blocked")

	// Phone width: the composer's placeholder fits.
	bob.run("phone width", chromedp.EmulateViewport(390, 844))
	bob.until("short placeholder", `document.querySelector('#composer-input').placeholder === 'Message'`)
	bob.shot("v11-phone")
}

// waitSearch waits until the first server's search finds q.
func (c *cluster) waitSearch(t *testing.T, token, q string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		req, _ := http.NewRequest("GET", c.urls[0]+"/api/v1/search?q="+url.QueryEscape(q), nil)
		req.Header.Set("Authorization", "Bearer "+token)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			var body struct{ Messages []json.RawMessage }
			err = json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if err == nil && len(body.Messages) > 0 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond) // poll interval, bounded by deadline
	}
	t.Fatalf("search for %q found nothing", q)
}
