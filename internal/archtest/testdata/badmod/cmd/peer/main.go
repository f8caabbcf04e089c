// Command peer in this fixture reaches past the API on purpose.
package main

import "github.com/peer-node/peer/internal/keystore"

func main() { println(keystore.Name) }
