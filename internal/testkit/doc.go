// Package testkit holds test support shared by the integration packages' tests
// (bulwarkhttp, and the nested modules bulwarkgrpc and bulwarkotel): an engine built for
// one test and shut down when it ends. It is internal to bulwark and imported only from
// _test.go files.
package testkit
