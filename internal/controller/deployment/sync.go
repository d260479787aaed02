package deployment

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bosun-k8s/bosun/internal/controller/controllerutil"
)

// updateStatus writes d's status (and the revision annotation, which
// upstream's status subresource also carries) and returns the stored
// Deployment. If the server dropped the annotation, it is written with a
// plain update.
func (c *Controller) updateStatus(ctx context.Context, d *appsv1.Deployment) (*appsv1.Deployment, error) {
	updated, err := c.client.AppsV1().Deployments(d.Namespace).UpdateStatus(ctx, d, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("update status of deployment %s/%s: %w", d.Namespace, d.Name, err)
	}
	if want := d.Annotations[RevisionAnnotation]; want != "" && updated.Annotations[RevisionAnnotation] != want {
		cp := updated.DeepCopy()
		setDeploymentRevision(cp, want)
		updated, err = c.client.AppsV1().Deployments(d.Namespace).Update(ctx, cp, metav1.UpdateOptions{})
		if err != nil {
			return nil, fmt.Errorf("set revision of deployment %s/%s: %w", d.Namespace, d.Name, err)
		}
	}
	return updated, nil
}

// syncStatusOnly only recomputes status (for Deployments being deleted).
func (c *Controller) syncStatusOnly(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet) error {
	newRS, oldRSs, err := c.allReplicaSetsAndSyncRevision(ctx, d, rsList, false)
	if err != nil {
		return err
	}
	return c.syncDeploymentStatus(ctx, append(oldRSs, newRS), newRS, d)
}

// syncScaleOnly scales ReplicaSets to a new replica count without rolling
// anything out (paused Deployments and scaling events).
func (c *Controller) syncScaleOnly(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet) error {
	newRS, oldRSs, err := c.allReplicaSetsAndSyncRevision(ctx, d, rsList, false)
	if err != nil {
		return err
	}
	if err := c.scale(ctx, d, newRS, oldRSs); err != nil {
		return err
	}
	if d.Spec.Paused {
		if err := c.cleanup(ctx, oldRSs, d); err != nil {
			return err
		}
	}
	return c.syncDeploymentStatus(ctx, append(oldRSs, newRS), newRS, d)
}

// checkPausedConditions records pausing and resuming in the Progressing
// condition, so that a paused rollout does not time out.
func (c *Controller) checkPausedConditions(ctx context.Context, d *appsv1.Deployment) error {
	if !hasProgressDeadline(d) {
		return nil
	}
	cond := getCondition(d.Status, appsv1.DeploymentProgressing)
	if cond != nil && cond.Reason == ReasonTimedOut {
		return nil
	}
	pausedSet := cond != nil && cond.Reason == ReasonPaused
	now := c.clock.Now()
	changed := false
	switch {
	case d.Spec.Paused && !pausedSet:
		setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionUnknown, ReasonPaused, "Deployment is paused", now))
		changed = true
	case !d.Spec.Paused && pausedSet:
		setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionUnknown, ReasonResumed, "Deployment is resumed", now))
		changed = true
	}
	if !changed {
		return nil
	}
	updated, err := c.updateStatus(ctx, d)
	if err != nil {
		return err
	}
	*d = *updated
	return nil
}

// isScalingEvent reports whether d's replicas changed since its active
// ReplicaSets were last annotated.
func (c *Controller) isScalingEvent(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet) (bool, error) {
	newRS, oldRSs, err := c.allReplicaSetsAndSyncRevision(ctx, d, rsList, false)
	if err != nil {
		return false, err
	}
	for _, rs := range filterActive(append(oldRSs, newRS)) {
		desired, ok := intAnnotation(rs, DesiredReplicasAnnotation)
		if ok && desired != replicas(d) {
			return true, nil
		}
	}
	return false, nil
}

// allReplicaSetsAndSyncRevision returns the new ReplicaSet (created when
// create is set and none matches) and the old ones, bringing revisions up
// to date.
func (c *Controller) allReplicaSetsAndSyncRevision(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet, create bool) (*appsv1.ReplicaSet, []*appsv1.ReplicaSet, error) {
	_, allOld := findOldReplicaSets(d, rsList)
	newRS, err := c.newReplicaSet(ctx, d, rsList, allOld, create)
	if err != nil {
		return nil, nil, err
	}
	return newRS, allOld, nil
}

func (c *Controller) newReplicaSet(ctx context.Context, d *appsv1.Deployment, rsList, oldRSs []*appsv1.ReplicaSet, create bool) (*appsv1.ReplicaSet, error) {
	existing := findNewReplicaSet(d, rsList)
	newRevision := strconv.FormatInt(maxRevision(oldRSs)+1, 10)
	now := c.clock.Now()

	if existing != nil {
		rsCopy := existing.DeepCopy()
		annotationsUpdated := setNewRSAnnotations(d, rsCopy, newRevision, true)
		minReadyChanged := rsCopy.Spec.MinReadySeconds != d.Spec.MinReadySeconds
		if annotationsUpdated || minReadyChanged {
			rsCopy.Spec.MinReadySeconds = d.Spec.MinReadySeconds
			updated, err := c.client.AppsV1().ReplicaSets(rsCopy.Namespace).Update(ctx, rsCopy, metav1.UpdateOptions{})
			if err != nil {
				return nil, fmt.Errorf("update replicaset %s/%s: %w", rsCopy.Namespace, rsCopy.Name, err)
			}
			return updated, nil
		}
		needsUpdate := setDeploymentRevision(d, rsCopy.Annotations[RevisionAnnotation])
		if hasProgressDeadline(d) && getCondition(d.Status, appsv1.DeploymentProgressing) == nil {
			msg := fmt.Sprintf("Found new replica set %q", rsCopy.Name)
			setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, ReasonFoundNewRS, msg, now))
			needsUpdate = true
		}
		if needsUpdate {
			updated, err := c.updateStatus(ctx, d)
			if err != nil {
				return nil, err
			}
			*d = *updated
		}
		return rsCopy, nil
	}
	if !create {
		return nil, nil
	}

	hash := controllerutil.ComputeHash(&d.Spec.Template, d.Status.CollisionCount)
	template := *d.Spec.Template.DeepCopy()
	if template.Labels == nil {
		template.Labels = map[string]string{}
	}
	template.Labels[controllerutil.DefaultDeploymentUniqueLabelKey] = hash
	selector := d.Spec.Selector.DeepCopy()
	if selector.MatchLabels == nil {
		selector.MatchLabels = map[string]string{}
	}
	selector.MatchLabels[controllerutil.DefaultDeploymentUniqueLabelKey] = hash
	zero := int32(0)
	newRS := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Name:            d.Name + "-" + hash,
			Namespace:       d.Namespace,
			OwnerReferences: []metav1.OwnerReference{*controllerutil.NewControllerRef(d, deploymentKind)},
			Labels:          copyLabels(template.Labels),
		},
		Spec: appsv1.ReplicaSetSpec{
			Replicas:        &zero,
			MinReadySeconds: d.Spec.MinReadySeconds,
			Selector:        selector,
			Template:        template,
		},
	}
	count := newRSNewReplicas(d, append(append([]*appsv1.ReplicaSet(nil), oldRSs...), newRS), newRS)
	newRS.Spec.Replicas = &count
	setNewRSAnnotations(d, newRS, newRevision, false)

	created, err := c.client.AppsV1().ReplicaSets(d.Namespace).Create(ctx, newRS, metav1.CreateOptions{})
	alreadyExists := false
	switch {
	case apierrors.IsAlreadyExists(err):
		alreadyExists = true
		rs, getErr := c.rsLister.ReplicaSets(d.Namespace).Get(newRS.Name)
		if getErr != nil {
			return nil, getErr
		}
		ref := metav1.GetControllerOfNoCopy(rs)
		if ref != nil && ref.UID == d.UID && equalIgnoreHash(&d.Spec.Template, &rs.Spec.Template) {
			created, err = rs, nil
			break
		}
		// A hash collision: another template has this name. Bump the
		// collision count so the next sync picks another name.
		if d.Status.CollisionCount == nil {
			d.Status.CollisionCount = new(int32)
		}
		*d.Status.CollisionCount++
		if _, uerr := c.client.AppsV1().Deployments(d.Namespace).UpdateStatus(ctx, d, metav1.UpdateOptions{}); uerr != nil {
			return nil, fmt.Errorf("record hash collision: %w", uerr)
		}
		return nil, fmt.Errorf("replicaset %s/%s exists with another template (hash collision): %w", d.Namespace, newRS.Name, err)
	case apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
		return nil, err
	case err != nil:
		msg := fmt.Sprintf("Failed to create new replica set %q: %v", newRS.Name, err)
		if hasProgressDeadline(d) {
			setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionFalse, ReasonFailedRSCreate, msg, now))
			if _, uerr := c.client.AppsV1().Deployments(d.Namespace).UpdateStatus(ctx, d, metav1.UpdateOptions{}); uerr != nil {
				c.log.Debug("status update after failed replicaset creation", "err", uerr)
			}
		}
		c.recorder.Eventf(d, corev1.EventTypeWarning, ReasonFailedRSCreate, msg)
		return nil, fmt.Errorf("create replicaset %s/%s: %w", d.Namespace, newRS.Name, err)
	}
	if !alreadyExists && count > 0 {
		c.recorder.Eventf(d, corev1.EventTypeNormal, ReasonScalingReplicaSet, "Scaled up replica set %s from 0 to %d", created.Name, count)
	}
	needsUpdate := setDeploymentRevision(d, newRevision)
	if !alreadyExists && hasProgressDeadline(d) {
		msg := fmt.Sprintf("Created new replica set %q", created.Name)
		setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, ReasonNewRSCreated, msg, now))
		needsUpdate = true
	}
	if needsUpdate {
		updated, err := c.updateStatus(ctx, d)
		if err != nil {
			return nil, err
		}
		*d = *updated
	}
	return created, nil
}

func copyLabels(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// scale spreads d's replica count over its ReplicaSets: all to the only
// active one, or proportionally to their sizes during a rollout.
func (c *Controller) scale(ctx context.Context, d *appsv1.Deployment, newRS *appsv1.ReplicaSet, oldRSs []*appsv1.ReplicaSet) error {
	if rs := findActiveOrLatest(newRS, oldRSs); rs != nil {
		if rsReplicas(rs) == replicas(d) {
			return nil
		}
		_, _, err := c.scaleAndRecord(ctx, rs, replicas(d), d)
		return err
	}
	if isSaturated(d, newRS) {
		for _, old := range filterActive(oldRSs) {
			if _, _, err := c.scaleAndRecord(ctx, old, 0, d); err != nil {
				return err
			}
		}
		return nil
	}
	if !isRollingUpdate(d) {
		return nil
	}
	all := filterActive(append(append([]*appsv1.ReplicaSet(nil), oldRSs...), newRS))
	allowed := int32(0)
	if replicas(d) > 0 {
		allowed = replicas(d) + maxSurge(d)
	}
	toAdd := allowed - sumSpec(all)
	op := ""
	switch {
	case toAdd > 0:
		sort.Sort(bySizeNewer(all))
		op = "up"
	case toAdd < 0:
		sort.Sort(bySizeOlder(all))
		op = "down"
	}
	added := int32(0)
	sizes := map[string]int32{}
	for _, rs := range all {
		if toAdd != 0 {
			p := proportion(rs, d, toAdd, added)
			sizes[rs.Name] = rsReplicas(rs) + p
			added += p
		} else {
			sizes[rs.Name] = rsReplicas(rs)
		}
	}
	if toAdd != 0 && len(all) > 0 {
		if left := toAdd - added; left != 0 {
			name := all[0].Name
			sizes[name] = max(sizes[name]+left, 0)
		}
	}
	for _, rs := range all {
		if _, _, err := c.scaleRS(ctx, rs, sizes[rs.Name], d, op); err != nil {
			return err
		}
	}
	return nil
}

// findActiveOrLatest returns the only active ReplicaSet, or the newest when
// none is active, or nil when several are.
func findActiveOrLatest(newRS *appsv1.ReplicaSet, oldRSs []*appsv1.ReplicaSet) *appsv1.ReplicaSet {
	if newRS == nil && len(oldRSs) == 0 {
		return nil
	}
	olds := append([]*appsv1.ReplicaSet(nil), oldRSs...)
	sort.Sort(sort.Reverse(byCreation(olds)))
	active := filterActive(append(append([]*appsv1.ReplicaSet(nil), olds...), newRS))
	switch len(active) {
	case 0:
		if newRS != nil {
			return newRS
		}
		return olds[0]
	case 1:
		return active[0]
	}
	return nil
}

func (c *Controller) scaleAndRecord(ctx context.Context, rs *appsv1.ReplicaSet, n int32, d *appsv1.Deployment) (bool, *appsv1.ReplicaSet, error) {
	if rsReplicas(rs) == n {
		return false, rs, nil
	}
	op := "up"
	if rsReplicas(rs) > n {
		op = "down"
	}
	return c.scaleRS(ctx, rs, n, d, op)
}

func (c *Controller) scaleRS(ctx context.Context, rs *appsv1.ReplicaSet, n int32, d *appsv1.Deployment, op string) (bool, *appsv1.ReplicaSet, error) {
	sizeChanged := rsReplicas(rs) != n
	annotationsChanged := replicasAnnotationsNeedUpdate(rs, replicas(d), replicas(d)+maxSurge(d))
	if !sizeChanged && !annotationsChanged {
		return false, rs, nil
	}
	old := rsReplicas(rs)
	cp := rs.DeepCopy()
	cp.Spec.Replicas = &n
	setReplicasAnnotations(cp, replicas(d), replicas(d)+maxSurge(d))
	updated, err := c.client.AppsV1().ReplicaSets(cp.Namespace).Update(ctx, cp, metav1.UpdateOptions{})
	if err != nil {
		return false, rs, fmt.Errorf("scale replicaset %s/%s: %w", rs.Namespace, rs.Name, err)
	}
	if sizeChanged {
		c.recorder.Eventf(d, corev1.EventTypeNormal, ReasonScalingReplicaSet, "Scaled %s replica set %s from %d to %d", op, rs.Name, old, n)
	}
	return sizeChanged, updated, nil
}

// cleanup deletes the oldest ReplicaSets beyond revisionHistoryLimit that
// have no pods left.
func (c *Controller) cleanup(ctx context.Context, oldRSs []*appsv1.ReplicaSet, d *appsv1.Deployment) error {
	if !hasRevisionHistoryLimit(d) {
		return nil
	}
	var cleanable []*appsv1.ReplicaSet
	for _, rs := range oldRSs {
		if rs != nil && rs.DeletionTimestamp == nil {
			cleanable = append(cleanable, rs)
		}
	}
	diff := len(cleanable) - int(*d.Spec.RevisionHistoryLimit)
	if diff <= 0 {
		return nil
	}
	sort.Sort(byRevision(cleanable))
	for _, rs := range cleanable[:diff] {
		if rs.Status.Replicas != 0 || rsReplicas(rs) != 0 || rs.Generation > rs.Status.ObservedGeneration || rs.DeletionTimestamp != nil {
			continue
		}
		err := c.client.AppsV1().ReplicaSets(rs.Namespace).Delete(ctx, rs.Name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete old replicaset %s/%s: %w", rs.Namespace, rs.Name, err)
		}
	}
	return nil
}

// syncDeploymentStatus writes the status computed from the ReplicaSets.
func (c *Controller) syncDeploymentStatus(ctx context.Context, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet, d *appsv1.Deployment) error {
	st := c.calculateStatus(all, newRS, d)
	if reflect.DeepEqual(d.Status, st) {
		return nil
	}
	d.Status = st
	_, err := c.updateStatus(ctx, d)
	return err
}

// calculateStatus sums the ReplicaSets' status into d's and sets the
// Available condition.
func (c *Controller) calculateStatus(all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet, d *appsv1.Deployment) appsv1.DeploymentStatus {
	available := sumStatus(all, statusAvailable)
	total := sumSpec(all)
	unavailable := max(total-available, 0)
	st := appsv1.DeploymentStatus{
		ObservedGeneration:  d.Generation,
		Replicas:            sumStatus(all, statusReplicas),
		UpdatedReplicas:     sumStatus([]*appsv1.ReplicaSet{newRS}, statusReplicas),
		ReadyReplicas:       sumStatus(all, statusReady),
		AvailableReplicas:   available,
		UnavailableReplicas: unavailable,
		CollisionCount:      d.Status.CollisionCount,
	}
	st.Conditions = append(st.Conditions, d.Status.Conditions...)
	now := c.clock.Now()
	if available >= replicas(d)-maxUnavailable(d) {
		setCondition(&st, newCondition(appsv1.DeploymentAvailable, corev1.ConditionTrue, ReasonMinimumAvailable, "Deployment has minimum availability.", now))
	} else {
		setCondition(&st, newCondition(appsv1.DeploymentAvailable, corev1.ConditionFalse, ReasonMinimumUnavailable, "Deployment does not have minimum availability.", now))
	}
	return st
}
