// Package browsertest drives bulwarkhttp's status page in a real browser: Debian's
// chromium, headless, through the DevTools protocol (github.com/chromedp/chromedp),
// against a page served on 127.0.0.1. It is a module of its own so that the root
// module does not depend on chromedp. Its test skips when chromium is not installed,
// unless the environment variable CI is set: then it fails, since .ci/steps installs
// chromium before the tests run.
//
//	cd bulwarkhttp/browsertest && go test -race -artifacts -outputdir /tmp/shots ./...
//
// keeps the screenshots it takes (status-page.png, status-page-phone.png).
package browsertest
