package engine

// vocab is what the simulated model says: each token is one of these words with its
// leading space, as BPE tokens usually are.
var vocab = [...]string{
	" the", " of", " and", " to", " in", " a", " is", " that", " for", " it",
	" as", " was", " with", " be", " by", " on", " not", " he", " this", " are",
	" or", " his", " from", " at", " which", " but", " have", " an", " had", " they",
	" you", " were", " their", " one", " all", " we", " can", " her", " has", " there",
	" been", " if", " more", " when", " will", " would", " who", " so", " no", " model",
	" token", " stream", " engine", " kernel", " batch", " step", " graph", " cache", " queue", " probe",
	" fast", " slow", " light",
}

// tokenText is the deterministic text of a request's index-th token: the same request
// id gives the same text on every run, so tests can predict a response's content.
func tokenText(id string, index int) string {
	h := uint32(2166136261) // FNV-1a
	for i := 0; i < len(id); i++ {
		h ^= uint32(id[i])
		h *= 16777619
	}
	h ^= uint32(index) * 2654435761
	h ^= h >> 15
	return vocab[h%uint32(len(vocab))]
}

// TokenText exposes tokenText to front ends and tests that check a response's content.
func TokenText(id string, index int) string { return tokenText(id, index) }
