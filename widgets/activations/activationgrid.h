#pragma once
// The grid of all channel maps of one layer's output, sortable by index, mean or max activation.
#include "engine/core/tensorvalue.h"

#include <QImage>
#include <QWidget>

#include <vector>

namespace pellucid {

class ActivationGrid : public QWidget {
    Q_OBJECT
public:
    enum class SortKey { Index, Mean, Max };
    explicit ActivationGrid(QWidget *parent = nullptr);

    /// `activation` is [1, C, H, W] (maps), [1, F] (one value per feature) or [1, T, C] (one map).
    void setActivation(const TensorValue &activation, const std::vector<ChannelStats> &stats);
    void setSortKey(SortKey key);
    void setSharedScale(bool shared);
    int channelCount() const { return int(mImages.size()); }
    int selectedChannel() const { return mSelected; }
    void selectChannel(int channel);
    /// Channel indices in display order.
    const std::vector<int> &order() const { return mOrder; }

    QSize sizeHint() const override { return {360, 360}; }
    bool hasHeightForWidth() const override { return true; }
    int heightForWidth(int w) const override;

signals:
    void channelClicked(int channel);

protected:
    void paintEvent(QPaintEvent *) override;
    void mousePressEvent(QMouseEvent *) override;

private:
    void rebuild();
    QRect cellRect(int position, int width) const;
    int columnsFor(int width) const;

    TensorValue mActivation;
    std::vector<ChannelStats> mStats;
    std::vector<QImage> mImages;
    std::vector<int> mOrder;
    SortKey mSort = SortKey::Index;
    bool mShared = false;
    int mSelected = -1;
};

}   // namespace pellucid
