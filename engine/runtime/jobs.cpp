#include "engine/runtime/jobs.h"

#include <chrono>

namespace pellucid {

Job loadModelJob(const std::string &path, const LoadOptions &options, const std::string &id)
{
    Job job;
    job.kind = "load:" + id;
    job.work = [path, options, id](JobContext &ctx) -> std::shared_ptr<const JobOutput> {
        ctx.progress(0, 1, "loading " + path);
        std::shared_ptr<Model> model = Model::load(path, options);
        ctx.throwIfCancelled();
        auto out = std::make_shared<ModelLoadedOutput>();
        out->id = id;
        out->summary = std::make_shared<const ModelSummary>(model->summary());
        ctx.setModel(std::move(model), id);
        ctx.progress(1, 1, "loaded");
        return out;
    };
    return job;
}

std::shared_ptr<ActivationOutput> computeActivations(Model &model, const TensorValue &input, uint64_t inputId, const std::string &layer, int topK,
                                                     int histogramBins)
{
    std::vector<std::string> taps;
    if (!layer.empty()) taps.push_back(model.resolveLayer(layer).path);
    const auto t0 = std::chrono::steady_clock::now();
    ForwardResult r = model.forward(input, taps);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    return activationOutputFrom(model, std::move(r), inputId, layer, topK, histogramBins, ms);
}

std::shared_ptr<ActivationOutput> activationOutputFrom(const Model &model, ForwardResult &&r, uint64_t inputId, const std::string &layer, int topK,
                                                       int histogramBins, double forwardMs)
{
    auto out = std::make_shared<ActivationOutput>();
    out->inputId = inputId;
    out->layer = layer;
    out->forwardMs = forwardMs;
    if (!r.outputs.empty()) {
        out->logits = std::move(r.outputs.front());
        out->logitStats = out->logits.stats();
        out->topK = model.topK(out->logits, topK);
    }
    if (!layer.empty()) {
        const LayerRef ref = model.resolveLayer(layer);
        const auto &tensors = r.taps.at(ref.path);
        if (tensors.empty()) throw Error(ErrorCode::BadInput, "Layer '" + ref.path + "' returns no tensor");
        if (ref.element < 0 || size_t(ref.element) >= tensors.size())
            throw Error(ErrorCode::UnknownLayer,
                        "Layer '" + ref.path + "' returns " + std::to_string(tensors.size()) + " tensors; element [" + std::to_string(ref.element)
                            + "] does not exist");
        out->activation = tensors[size_t(ref.element)];
        out->stats = out->activation.stats();
        out->channels = computeChannelStats(out->activation);   // batch element 0
        out->histogram = computeHistogram(out->activation, histogramBins);
    }
    return out;
}

Job activationsJob(TensorValue input, uint64_t inputId, const std::string &layer, int topK, int histogramBins)
{
    Job job;
    job.kind = "activations";
    job.work = [input = std::move(input), inputId, layer, topK, histogramBins](JobContext &ctx) -> std::shared_ptr<const JobOutput> {
        ctx.throwIfCancelled();
        auto out = computeActivations(ctx.model(), input, inputId, layer, topK, histogramBins);
        ctx.throwIfCancelled();
        return out;
    };
    return job;
}

}   // namespace pellucid
