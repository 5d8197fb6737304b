-- Argo CD health of every drover.dev kind with a status (Prod, ProdSet, RolloutPolicy,
-- ClusterMaintenance, Notifier): drover's Ready, Reconciling and Stalled conditions, read as
-- kstatus reads them, and a ProdSet whose rollout a person paused is Suspended (only a
-- ProdSet has status.rollout) (config/argocd, docs/operations.md).
local function find(conds, t)
  if type(conds) ~= "table" then
    return nil
  end
  for _, c in ipairs(conds) do
    if type(c) == "table" and c.type == t then
      return c
    end
  end
  return nil
end

local function say(c, default)
  if type(c.message) == "string" and c.message ~= "" then
    return c.message
  end
  if type(c.reason) == "string" and c.reason ~= "" then
    return c.reason
  end
  return default
end

local st = obj.status
if type(st) ~= "table" or type(st.conditions) ~= "table" or #st.conditions == 0 then
  return {status = "Progressing", message = "waiting for drover"}
end
local gen = nil
if type(obj.metadata) == "table" then
  gen = obj.metadata.generation
end
if gen ~= nil and st.observedGeneration ~= nil and gen ~= st.observedGeneration then
  return {status = "Progressing", message = "waiting for drover to observe generation " .. gen}
end
local stalled = find(st.conditions, "Stalled")
if stalled ~= nil and stalled.status == "True" then
  return {status = "Degraded", message = say(stalled, "stalled")}
end
local ro = st.rollout
if type(ro) == "table" and ro.phase == "Paused" then
  local where = "step " .. ((tonumber(ro.step) or 0) + 1)
  if type(ro.stepName) == "string" and ro.stepName ~= "" then
    where = where .. " (" .. ro.stepName .. ")"
  end
  local why = ro.message
  if type(why) ~= "string" or why == "" then
    why = "paused"
  end
  if ro.failedTime ~= nil then
    return {status = "Degraded", message = "the rollout failed and is paused at " .. where .. ": " .. why}
  end
  return {status = "Suspended", message = "the rollout is paused at " .. where .. ": " .. why .. " (resume to go on)"}
end
local reconciling = find(st.conditions, "Reconciling")
if reconciling ~= nil and reconciling.status == "True" then
  return {status = "Progressing", message = say(reconciling, "reconciling")}
end
local ready = find(st.conditions, "Ready")
if ready ~= nil and ready.status == "True" then
  return {status = "Healthy", message = say(ready, "ready")}
end
if ready ~= nil then
  return {status = "Progressing", message = say(ready, "not ready")}
end
return {status = "Progressing", message = "waiting for drover"}
