/** Start steps of the blue/green method: the deployment with the target key, and the switchover. */
import { CreateBlueGreenDeploymentCommand, SwitchoverBlueGreenDeploymentCommand } from '@aws-sdk/client-rds';
import { getBlueGreen } from './checks';
import { call } from './clients';
import { addArtifact } from './state';
import { kitTags, need, ok, src, StepFn } from './step-base';

export const createBlueGreen: StepFn = async (c, s) => {
  const step = 'createBlueGreen';
  const keyArn = need(s.targetKeyArn, step, 'target key');
  const captured = src(s, step);
  if (!s.blueGreenId) {
    const arn = captured.kind === 'instance' ? captured.instance.arn : captured.cluster.arn;
    const replicaArns = captured.kind === 'instance' ? captured.instance.readReplicas.map((r) => (r.startsWith('arn:') ? r : arn.replace(/:db:[^:]+$/, `:db:${r}`))) : [];
    const name = `${s.sourceId.slice(0, 40)}-rekey-${s.runId}`;
    const r = await call(() =>
      c.rds.send(
        new CreateBlueGreenDeploymentCommand({
          BlueGreenDeploymentName: name,
          Source: arn,
          TargetResourceConfigurations: [arn, ...replicaArns].map((SourceArn) => ({ SourceArn, TargetKmsKeyId: keyArn })),
          Tags: kitTags(s, 'blue-green-deployment'),
        }),
      ),
    );
    s.blueGreenId = need(r.BlueGreenDeployment?.BlueGreenDeploymentIdentifier, step, 'blue/green deployment id');
    addArtifact(s, { type: 'blue-green-deployment', id: s.blueGreenId, region: s.region, role: `${name}: green environment on the target key` });
  }
  return ok(s, step, `blue/green deployment ${s.blueGreenId}`);
};

export const switchover: StepFn = async (c, s) => {
  const step = 'switchover';
  const d = await getBlueGreen(c, s, step);
  if (d.Status === 'AVAILABLE') {
    await call(() => c.rds.send(new SwitchoverBlueGreenDeploymentCommand({ BlueGreenDeploymentIdentifier: s.blueGreenId, SwitchoverTimeout: 300 })));
  }
  s.cutover = { at: new Date().toISOString(), sourceRenamedTo: `${s.sourceId}-old1 (named by RDS)`, memberRenames: [] };
  return ok(s, step, `switchover of ${s.blueGreenId} started`);
};
