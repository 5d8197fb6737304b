package main

import (
	"time"

	"sigs.k8s.io/controller-runtime/pkg/cache"
)

func cacheOptions(syncPeriod time.Duration) cache.Options {
	return cache.Options{SyncPeriod: &syncPeriod}
}
