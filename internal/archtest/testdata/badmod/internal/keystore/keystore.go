// Package keystore is a fixture domain package.
package keystore

const Name = "keystore"
