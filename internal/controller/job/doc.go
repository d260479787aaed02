// Package job runs Jobs' pods to completion.
//
// A sync claims the pods the Job's selector matches, counts them (active,
// ready, succeeded, failed; counts never go down, so deleting a finished
// pod does not undo its completion), and then:
//
//   - suspended: deletes active pods, sets the Suspended condition;
//   - past activeDeadlineSeconds: deletes active pods, fails the Job with
//     reason DeadlineExceeded;
//   - more failures than backoffLimit (container restarts count under
//     restartPolicy OnFailure): deletes active pods, fails the Job with
//     reason BackoffLimitExceeded;
//   - enough successes (completions, or for a work queue — no completions —
//     any success with nothing left running): the Job is Complete;
//   - otherwise keeps min(parallelism, completions-succeeded) pods active,
//     creating them in slow-start batches, after an exponential back-off
//     (10 s doubling, 6 min cap) following failures.
//
// A podFailurePolicy decides per failed pod (exit codes, pod conditions)
// whether it fails the Job at once (reason PodFailurePolicy), is ignored, or
// counts; podReplacementPolicy Failed waits for terminating pods to finish
// before replacing them.
//
// Indexed Jobs give each pod a completion index (annotation, label,
// JOB_COMPLETION_INDEX and hostname <job>-<index>) and track completed
// indexes. Terminal conditions follow 1.33: SuccessCriteriaMet then
// Complete, FailureTarget then Failed. A finished Job with
// ttlSecondsAfterFinished is deleted (foreground) once that time has passed.
package job
