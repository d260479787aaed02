package controllerutil

import "sync"

// SlowStartInitialBatchSize is the size of the first batch of creations.
const SlowStartInitialBatchSize = 1

// SlowStartBatch calls fn count times in batches of growing size (1, 2, 4, …),
// running each batch in parallel. It stops after the first batch in which a
// call fails, so a quota or admission error costs one call rather than
// count. It returns how many calls succeeded and the first error seen.
func SlowStartBatch(count, initialBatchSize int, fn func() error) (int, error) {
	remaining := count
	successes := 0
	for batch := min(remaining, initialBatchSize); batch > 0; batch = min(2*batch, remaining) {
		errCh := make(chan error, batch)
		var wg sync.WaitGroup
		wg.Add(batch)
		for i := 0; i < batch; i++ {
			go func() {
				defer wg.Done()
				if err := fn(); err != nil {
					errCh <- err
				}
			}()
		}
		wg.Wait()
		close(errCh)
		failed := len(errCh)
		successes += batch - failed
		if failed > 0 {
			return successes, <-errCh
		}
		remaining -= batch
	}
	return successes, nil
}
