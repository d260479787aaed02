package deployment

import (
	"context"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
)

// rolloutRolling moves d one step along a RollingUpdate.
func (c *Controller) rolloutRolling(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet) error {
	newRS, oldRSs, err := c.allReplicaSetsAndSyncRevision(ctx, d, rsList, true)
	if err != nil {
		return err
	}
	all := append(append([]*appsv1.ReplicaSet(nil), oldRSs...), newRS)

	scaledUp, err := c.reconcileNewReplicaSet(ctx, all, newRS, d)
	if err != nil {
		return err
	}
	if scaledUp {
		return c.syncRolloutStatus(ctx, all, newRS, d)
	}
	scaledDown, err := c.reconcileOldReplicaSets(ctx, all, filterActive(oldRSs), newRS, d)
	if err != nil {
		return err
	}
	if scaledDown {
		return c.syncRolloutStatus(ctx, all, newRS, d)
	}
	if deploymentComplete(d, &d.Status) {
		if err := c.cleanup(ctx, oldRSs, d); err != nil {
			return err
		}
	}
	return c.syncRolloutStatus(ctx, all, newRS, d)
}

func (c *Controller) reconcileNewReplicaSet(ctx context.Context, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet, d *appsv1.Deployment) (bool, error) {
	if rsReplicas(newRS) == replicas(d) {
		return false, nil
	}
	if rsReplicas(newRS) > replicas(d) {
		scaled, _, err := c.scaleAndRecord(ctx, newRS, replicas(d), d)
		return scaled, err
	}
	scaled, _, err := c.scaleAndRecord(ctx, newRS, newRSNewReplicas(d, all, newRS), d)
	return scaled, err
}

// reconcileOldReplicaSets shrinks old ReplicaSets as far as availability
// allows: first their unhealthy pods, then healthy ones down to
// replicas-maxUnavailable available.
func (c *Controller) reconcileOldReplicaSets(ctx context.Context, all, oldRSs []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet, d *appsv1.Deployment) (bool, error) {
	if sumSpec(oldRSs) == 0 {
		return false, nil
	}
	allPods := sumSpec(all)
	minAvailable := replicas(d) - maxUnavailable(d)
	newUnavailable := rsReplicas(newRS) - newRS.Status.AvailableReplicas
	maxScaledDown := allPods - minAvailable - newUnavailable
	if maxScaledDown <= 0 {
		return false, nil
	}
	oldRSs, cleaned, err := c.cleanupUnhealthy(ctx, oldRSs, d, maxScaledDown)
	if err != nil {
		return false, err
	}
	all = append(append([]*appsv1.ReplicaSet(nil), oldRSs...), newRS)
	scaled, err := c.scaleDownOldForRollingUpdate(ctx, all, oldRSs, d)
	if err != nil {
		return false, err
	}
	return cleaned+scaled > 0, nil
}

func (c *Controller) cleanupUnhealthy(ctx context.Context, oldRSs []*appsv1.ReplicaSet, d *appsv1.Deployment, maxCleanup int32) ([]*appsv1.ReplicaSet, int32, error) {
	oldRSs = append([]*appsv1.ReplicaSet(nil), oldRSs...)
	sort.Sort(byCreation(oldRSs))
	var total int32
	for i, rs := range oldRSs {
		if total >= maxCleanup {
			break
		}
		if rsReplicas(rs) == 0 || rsReplicas(rs) == rs.Status.AvailableReplicas {
			continue
		}
		down := min(maxCleanup-total, rsReplicas(rs)-rs.Status.AvailableReplicas)
		_, updated, err := c.scaleAndRecord(ctx, rs, rsReplicas(rs)-down, d)
		if err != nil {
			return nil, total, err
		}
		total += down
		oldRSs[i] = updated
	}
	return oldRSs, total, nil
}

func (c *Controller) scaleDownOldForRollingUpdate(ctx context.Context, all, oldRSs []*appsv1.ReplicaSet, d *appsv1.Deployment) (int32, error) {
	minAvailable := replicas(d) - maxUnavailable(d)
	available := sumStatus(all, statusAvailable)
	if available <= minAvailable {
		return 0, nil
	}
	oldRSs = append([]*appsv1.ReplicaSet(nil), oldRSs...)
	sort.Sort(byCreation(oldRSs))
	var total int32
	want := available - minAvailable
	for _, rs := range oldRSs {
		if total >= want {
			break
		}
		if rsReplicas(rs) == 0 {
			continue
		}
		down := min(rsReplicas(rs), want-total)
		if _, _, err := c.scaleAndRecord(ctx, rs, rsReplicas(rs)-down, d); err != nil {
			return total, err
		}
		total += down
	}
	return total, nil
}
