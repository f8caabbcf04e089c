// Package node is the fixture's composition root.
package node

const Name = "node"
